//! Waiting for a condition with a deadline, never a bare sleep.
//!
//! A probe returns `Ok(value)` when the condition holds, or `Err(seen)` describing what it saw;
//! at the deadline the last `seen` goes into the error, so a timeout says what was there.
//! Without a terminal (a CI log), a wait longer than [`HEARTBEAT_INTERVAL_MS`] prints a line
//! every interval, so a long wait (an offset expiry) is not mistaken for a hang.

use std::future::Future;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

/// How often a condition is looked at. Short enough for sub-second steps, long enough not to
/// load the broker when many scenarios wait at once.
pub const POLL_INTERVAL_MS: u64 = 100;
/// How often a long wait says it is still waiting when no terminal shows a progress bar.
pub const HEARTBEAT_INTERVAL_MS: u64 = 10_000;
/// Longest "last seen" text a heartbeat line quotes.
pub const HEARTBEAT_SEEN_CHARS_MAX: usize = 200;

#[derive(Debug, thiserror::Error)]
#[error("timed out after {waited_ms} ms waiting for {what}; last seen: {seen}")]
pub struct TimedOut {
    pub what: String,
    pub waited_ms: u64,
    pub seen: String,
}

/// Polls `probe` every [`POLL_INTERVAL_MS`] until it returns `Ok` or `timeout` passes.
/// The probe always runs at least once, even with a zero timeout.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    until_every(
        what,
        timeout,
        Duration::from_millis(POLL_INTERVAL_MS),
        &mut probe,
    )
    .await
}

/// Like [`until`] with a chosen poll interval.
pub async fn until_every<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: F,
) -> Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    let deadline = started + timeout;
    let heartbeat = !std::io::stderr().is_terminal();
    let mut beats_printed = 0u64;
    loop {
        let seen = match probe().await {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        let now = Instant::now();
        let elapsed = now.duration_since(started);
        if heartbeat && let Some(beat) = heartbeat_due(elapsed, beats_printed) {
            beats_printed = beat;
            eprintln!("{}", heartbeat_line(what, elapsed, timeout, &seen));
        }
        if now >= deadline {
            return Err(TimedOut {
                what: what.to_string(),
                waited_ms: u64::try_from(now.duration_since(started).as_millis())
                    .unwrap_or(u64::MAX),
                seen,
            });
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
    }
}

/// The heartbeat number to print now, if `elapsed` has reached one past the last printed.
pub fn heartbeat_due(elapsed: Duration, beats_printed: u64) -> Option<u64> {
    let beat = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX) / HEARTBEAT_INTERVAL_MS;
    (beat > beats_printed).then_some(beat)
}

pub fn heartbeat_line(what: &str, elapsed: Duration, timeout: Duration, seen: &str) -> String {
    let seen: String = seen.chars().take(HEARTBEAT_SEEN_CHARS_MAX).collect();
    format!(
        "esm-chaos: still waiting for {what}: {} s of at most {} s (last seen: {seen})",
        elapsed.as_secs(),
        timeout.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_once_the_condition_holds() {
        let calls = AtomicU32::new(0);
        let got = until("three calls", Duration::from_secs(5), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= 3 {
                Ok(n)
            } else {
                Err(format!("{n} calls"))
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
    }

    #[test]
    fn a_heartbeat_every_ten_seconds_and_none_before() {
        let s = Duration::from_secs;
        assert_eq!(heartbeat_due(s(9), 0), None);
        assert_eq!(heartbeat_due(s(10), 0), Some(1));
        assert_eq!(heartbeat_due(s(15), 1), None);
        assert_eq!(heartbeat_due(s(21), 1), Some(2));
        let line = heartbeat_line("expiry", s(20), s(90), &"x".repeat(500));
        assert!(line.starts_with("esm-chaos: still waiting for expiry: 20 s of at most 90 s"));
        assert!(line.len() < 300, "{line}");
    }

    #[tokio::test]
    async fn timeout_reports_what_was_seen() {
        let err = until("never", Duration::from_millis(150), || async {
            Err::<(), _>("still 7 records".to_string())
        })
        .await
        .unwrap_err();
        assert_eq!(err.seen, "still 7 records");
        assert!(err.to_string().contains("waiting for never"));
        assert!(err.waited_ms >= 150);
    }
}
