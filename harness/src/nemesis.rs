//! Faults, each recorded in the history as a typed window (id, kind, target) that a
//! [`FaultWindow`] guard begins and ends.
//!
//! Process faults (kill, freeze) act on a mapping's pollers through `mapping`; broker faults
//! through `broker`; network faults through the TCP proxies a proxied broker advertises, so
//! only the pollers' traffic is cut or slowed while the harness keeps its direct view.

use crate::history::{EventKind, Fault, FaultKind, FaultPhase, FaultTarget, History};
use crate::proxy::TcpProxy;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest single fault window a step may ask for.
pub const FAULT_DURATION_MAX_MS: u64 = 600_000;
/// Slowdowns that last until the scenario ends, at most; more is a runaway scenario.
pub const SLOWDOWNS_MAX: usize = 64;

/// An open fault window. Its end enters the history when it is closed or dropped, so an early
/// `?` return, a cancelled step or a panic unwinding cannot leave it open.
#[must_use = "the window ends when the guard is dropped"]
pub struct FaultWindow {
    history: History,
    fault: Fault,
    ended: bool,
}

impl FaultWindow {
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// Ends the window now: the normal path.
    pub fn close(mut self) {
        self.end();
    }

    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            self.history.record(EventKind::Fault {
                fault: self.fault.clone(),
                phase: FaultPhase::Ended,
            });
        }
    }
}

impl Drop for FaultWindow {
    fn drop(&mut self) {
        self.end();
    }
}

pub struct Nemesis {
    history: History,
    next_id: AtomicU64,
    /// Broker nodes killed by one step and not yet started by another, with their windows.
    nodes_down: Mutex<BTreeMap<u8, FaultWindow>>,
    /// Slowdowns that last until the scenario ends, with the proxies they slow.
    slowed: Mutex<Vec<(FaultWindow, Vec<Arc<TcpProxy>>)>>,
}

impl Nemesis {
    pub fn new(history: History) -> Nemesis {
        Nemesis {
            history,
            next_id: AtomicU64::new(1),
            nodes_down: Mutex::new(BTreeMap::new()),
            slowed: Mutex::new(Vec::new()),
        }
    }

    /// Opens a fault window: its begin is recorded now, its end when the guard goes.
    pub fn open(&self, kind: FaultKind, target: FaultTarget) -> FaultWindow {
        self.open_fault(kind, target, None)
    }

    fn open_fault(
        &self,
        kind: FaultKind,
        target: FaultTarget,
        latency_ms: Option<u64>,
    ) -> FaultWindow {
        let fault = Fault {
            id: self.next_id.fetch_add(1, Ordering::SeqCst),
            kind,
            target,
            latency_ms,
        };
        self.history.record(EventKind::Fault {
            fault: fault.clone(),
            phase: FaultPhase::Began,
        });
        FaultWindow {
            history: self.history.clone(),
            fault,
            ended: false,
        }
    }

    /// Keeps a killed node's window open until [`Nemesis::node_started`].
    pub fn node_killed(&self, node: u8, window: FaultWindow) {
        assert_eq!(window.fault().kind, FaultKind::BrokerKill);
        let mut down = self.nodes_down.lock().expect("nemesis lock poisoned");
        // A node killed twice: the first window ends where the second begins.
        down.insert(node, window);
    }

    /// Ends the window of a killed node, if it has one.
    pub fn node_started(&self, node: u8) {
        let window = self
            .nodes_down
            .lock()
            .expect("nemesis lock poisoned")
            .remove(&node);
        if let Some(window) = window {
            window.close();
        }
    }

    /// Cuts every proxy for `duration`, then restores them.
    pub async fn cut_for(&self, proxies: &[Arc<TcpProxy>], mapping: &str, duration: Duration) {
        let duration = duration.min(Duration::from_millis(FAULT_DURATION_MAX_MS));
        let window = self.open(FaultKind::NetworkCut, FaultTarget::Mapping(mapping.into()));
        let restore = Restore::Cut(proxies);
        for proxy in proxies {
            proxy.set_cut(true);
        }
        tokio::time::sleep(duration).await;
        drop(restore);
        window.close();
    }

    /// Adds latency to every proxy for `duration`, then removes it.
    pub async fn slow_for(
        &self,
        proxies: &[Arc<TcpProxy>],
        mapping: &str,
        latency_ms: u64,
        duration: Duration,
    ) {
        let duration = duration.min(Duration::from_millis(FAULT_DURATION_MAX_MS));
        let window = self.open_slow(mapping, latency_ms);
        let restore = Restore::Latency(proxies);
        for proxy in proxies {
            proxy.set_latency_ms(latency_ms);
        }
        tokio::time::sleep(duration).await;
        drop(restore);
        window.close();
    }

    /// Adds latency to every proxy until the scenario ends (or `heal`).
    pub fn slow(&self, proxies: &[Arc<TcpProxy>], mapping: &str, latency_ms: u64) {
        let mut slowed = self.slowed.lock().expect("nemesis lock poisoned");
        assert!(
            slowed.len() < SLOWDOWNS_MAX,
            "a scenario slowed the network more than {SLOWDOWNS_MAX} times"
        );
        let window = self.open_slow(mapping, latency_ms);
        for proxy in proxies {
            proxy.set_latency_ms(latency_ms);
        }
        slowed.push((window, proxies.to_vec()));
    }

    fn open_slow(&self, mapping: &str, latency_ms: u64) -> FaultWindow {
        self.open_fault(
            FaultKind::NetworkSlow,
            FaultTarget::Mapping(mapping.into()),
            Some(latency_ms),
        )
    }

    /// Ends every fault still open: latency removed, windows closed.
    pub fn heal(&self) {
        let slowed = std::mem::take(&mut *self.slowed.lock().expect("nemesis lock poisoned"));
        for (window, proxies) in slowed {
            drop(Restore::Latency(&proxies));
            window.close();
        }
        let down = std::mem::take(&mut *self.nodes_down.lock().expect("nemesis lock poisoned"));
        down.into_values().for_each(FaultWindow::close);
    }
}

/// Undoes one network fault on its proxies when dropped, also when the fault is cut short.
enum Restore<'a> {
    Cut(&'a [Arc<TcpProxy>]),
    Latency(&'a [Arc<TcpProxy>]),
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        match self {
            Restore::Cut(proxies) => proxies.iter().for_each(|p| p.set_cut(false)),
            Restore::Latency(proxies) => proxies.iter().for_each(|p| p.set_latency_ms(0)),
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

    fn phases(history: &History) -> Vec<(u64, FaultKind, FaultPhase)> {
        history
            .snapshot()
            .into_iter()
            .filter_map(|e| match &e.kind {
                EventKind::Fault { fault, phase } => Some((fault.id, fault.kind, *phase)),
                _ => None,
            })
            .collect()
    }

    fn freeze_esm(nemesis: &Nemesis) -> FaultWindow {
        nemesis.open(FaultKind::Freeze, FaultTarget::Mapping("esm".into()))
    }

    #[test]
    fn windows_are_recorded_by_id_and_healed() {
        let history = History::new();
        let nemesis = Nemesis::new(history.clone());
        let freeze = freeze_esm(&nemesis);
        let kill = nemesis.open(FaultKind::BrokerKill, FaultTarget::BrokerNode(2));
        nemesis.node_killed(2, kill);
        freeze.close();
        nemesis.heal();
        assert_eq!(
            phases(&history),
            [
                (1, FaultKind::Freeze, FaultPhase::Began),
                (2, FaultKind::BrokerKill, FaultPhase::Began),
                (1, FaultKind::Freeze, FaultPhase::Ended),
                (2, FaultKind::BrokerKill, FaultPhase::Ended),
            ]
        );
    }

    #[test]
    fn a_started_node_ends_its_own_window_only() {
        let history = History::new();
        let nemesis = Nemesis::new(history.clone());
        for node in [1, 2] {
            let window = nemesis.open(FaultKind::BrokerKill, FaultTarget::BrokerNode(node));
            nemesis.node_killed(node, window);
        }
        nemesis.node_started(2);
        nemesis.node_started(3);
        let ended: Vec<u64> = phases(&history)
            .into_iter()
            .filter(|(_, _, phase)| *phase == FaultPhase::Ended)
            .map(|(id, _, _)| id)
            .collect();
        assert_eq!(ended, [2]);
    }

    #[derive(Debug)]
    struct Refused;

    fn fails() -> Result<(), Refused> {
        Err(Refused)
    }

    fn freeze_then_fail(nemesis: &Nemesis) -> Result<(), Refused> {
        let window = freeze_esm(nemesis);
        fails()?;
        window.close();
        Ok(())
    }

    #[test]
    fn a_window_closes_on_an_early_error_return() {
        let history = History::new();
        let nemesis = Nemesis::new(history.clone());
        assert!(freeze_then_fail(&nemesis).is_err());
        assert_eq!(
            phases(&history),
            [
                (1, FaultKind::Freeze, FaultPhase::Began),
                (1, FaultKind::Freeze, FaultPhase::Ended),
            ]
        );
    }

    #[test]
    fn a_window_closes_when_a_panic_unwinds() {
        let history = History::new();
        let nemesis = Nemesis::new(history.clone());
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _window = freeze_esm(&nemesis);
            panic!("the fault's action panicked");
        }));
        assert!(unwound.is_err());
        assert_eq!(phases(&history).len(), 2);
    }

    #[tokio::test]
    async fn a_cut_short_cut_restores_the_link_and_ends_its_window() {
        let history = History::new();
        let nemesis = Nemesis::new(history.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let proxy = TcpProxy::start(target).await.unwrap();
        let proxies = [proxy.clone()];
        let cut = nemesis.cut_for(&proxies, "esm", Duration::from_secs(60));
        let cut_short = tokio::time::timeout(Duration::from_millis(50), cut).await;
        assert!(cut_short.is_err(), "the cut outlasted the timeout");
        assert!(!proxy.is_cut());
        assert_eq!(phases(&history).len(), 2);
    }
}
