//! Faults, each recorded in the history as a window with a start and an end.
//!
//! Process faults (kill, freeze) act on a mapping's pollers through `mapping`; broker faults
//! through `broker`; network faults through the TCP proxies a proxied broker advertises, so
//! only the pollers' traffic is cut or slowed while the harness keeps its direct view.

use crate::history::{EventKind, History};
use crate::proxy::TcpProxy;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest single fault window a step may ask for.
pub const FAULT_DURATION_MAX_MS: u64 = 600_000;

pub struct Nemesis {
    history: History,
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, String>>,
    slowed: Mutex<Vec<Arc<TcpProxy>>>,
}

impl Nemesis {
    pub fn new(history: History) -> Nemesis {
        Nemesis {
            history,
            next_id: AtomicU64::new(1),
            open: Mutex::new(BTreeMap::new()),
            slowed: Mutex::new(Vec::new()),
        }
    }

    /// Opens a fault window; returns its id.
    pub fn begin(&self, name: &str) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        self.open
            .lock()
            .expect("nemesis lock poisoned")
            .insert(id, name.to_string());
        self.history.record(EventKind::Fault {
            id,
            name: name.to_string(),
            end: false,
        });
        id
    }

    /// Closes a fault window.
    pub fn end(&self, id: u64, name: &str) {
        self.open.lock().expect("nemesis lock poisoned").remove(&id);
        self.history.record(EventKind::Fault {
            id,
            name: name.to_string(),
            end: true,
        });
    }

    /// Closes the open window with this name, if any (a broker started after it was killed).
    pub fn end_named(&self, name: &str) {
        let id = {
            let open = self.open.lock().expect("nemesis lock poisoned");
            open.iter()
                .find(|(_, n)| n.as_str() == name)
                .map(|(id, _)| *id)
        };
        if let Some(id) = id {
            self.end(id, name);
        }
    }

    /// Cuts every proxy for `duration`, then restores them.
    pub async fn cut_for(&self, proxies: &[Arc<TcpProxy>], mapping: &str, duration: Duration) {
        let duration = duration.min(Duration::from_millis(FAULT_DURATION_MAX_MS));
        let name = format!("network cut {mapping}");
        let id = self.begin(&name);
        for proxy in proxies {
            proxy.set_cut(true);
        }
        tokio::time::sleep(duration).await;
        for proxy in proxies {
            proxy.set_cut(false);
        }
        self.end(id, &name);
    }

    /// Adds latency to every proxy until the scenario ends (or `heal`).
    pub fn slow(&self, proxies: &[Arc<TcpProxy>], mapping: &str, latency_ms: u64) {
        self.begin(&format!("network slowed {mapping} by {latency_ms} ms"));
        for proxy in proxies {
            proxy.set_latency_ms(latency_ms);
        }
        self.slowed
            .lock()
            .expect("nemesis lock poisoned")
            .extend(proxies.iter().cloned());
    }

    /// Ends every fault still open: latency removed, windows closed.
    pub fn heal(&self) {
        for proxy in self.slowed.lock().expect("nemesis lock poisoned").drain(..) {
            proxy.set_latency_ms(0);
            proxy.set_cut(false);
        }
        let open: Vec<(u64, String)> =
            std::mem::take(&mut *self.open.lock().expect("nemesis lock poisoned"))
                .into_iter()
                .collect();
        for (id, name) in open {
            self.history.record(EventKind::Fault {
                id,
                name,
                end: true,
            });
        }
    }
}

/// A progress bar for a long wait (offset expiry): hidden when stderr is not a terminal.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn tick(&self) {
        self.bar
            .set_position(self.bar.elapsed().as_millis().min(u128::from(u64::MAX)) as u64);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

pub fn progress_bar(message: &str, expected: Duration) -> Progress {
    let bar = ProgressBar::new(u64::try_from(expected.as_millis()).unwrap_or(u64::MAX));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {elapsed}/{duration}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(message.to_string());
    Progress { bar }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_recorded_and_healed() {
        let history = History::new();
        let nemesis = Nemesis::new(history.clone());
        let a = nemesis.begin("freeze esm");
        nemesis.begin("broker 2 down");
        nemesis.end(a, "freeze esm");
        nemesis.heal();
        let ends = history
            .snapshot()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Fault { end: true, .. }))
            .count();
        assert_eq!(ends, 2);
    }
}
