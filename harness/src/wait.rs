//! Waiting for a condition with a deadline, never a bare sleep.
//!
//! A probe returns `Ok(value)` when the condition holds, or `Err(seen)` describing what it saw;
//! at the deadline the last `seen` goes into the error, so a timeout says what was there.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is looked at. Short enough for sub-second steps, long enough not to
/// load the broker when many scenarios wait at once.
pub const POLL_INTERVAL_MS: u64 = 100;

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
    loop {
        let seen = match probe().await {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        let now = Instant::now();
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
