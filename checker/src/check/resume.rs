//! A mapping that starts again while its group still holds committed offsets resumes from them.
//!
//! AWS ("Kafka starting positions"; ESM-SPEC section 4): StartingPosition applies only when the
//! group has no valid committed offset; otherwise the pollers continue from the committed offset.
//! So after every poller of a mapping stopped (a kill, a disable, a restart), the first record
//! the new pollers invoke on a partition is at or above the offset the group committed before:
//! records below it were done, and invoking them again is a replay that at-least-once does not
//! excuse (only the uncommitted tail of a killed batch comes again).
//!
//! Judged from the history alone: a commit the harness saw is a lower bound of what the group
//! held at the start, so a late observation can hide a replay but never invent one. A partition
//! whose offsets the harness saw deleted or expired after that commit is the start checker's
//! ([`super::start`]), not this one's.

use super::{Inv, Subject, Verdict, push_evidence, verdict};
use crate::history::{Event, EventKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A start of the mapping after all its pollers had stopped.
struct StartFromNone {
    at_ms: u64,
    /// When the last poller stopped (0 for the mapping's first start).
    stopped_ms: u64,
    action: String,
}

fn starts_from_none(events: &[Arc<Event>], mapping: &str) -> Vec<StartFromNone> {
    let (mut running, mut stopped_ms) = (0u32, 0u64);
    let mut out = Vec::new();
    for e in events {
        if let EventKind::Lifecycle {
            mapping: m,
            action,
            pollers,
        } = &e.kind
            && m == mapping
        {
            if running == 0 && *pollers > 0 {
                out.push(StartFromNone {
                    at_ms: e.at_ms,
                    stopped_ms,
                    action: action.to_string(),
                });
            }
            if running > 0 && *pollers == 0 {
                stopped_ms = e.at_ms;
            }
            running = *pollers;
        }
    }
    out
}

/// Per partition, the group's last commit seen before the start, unless the offsets were seen
/// gone after it or while the mapping was stopped (a commit observed just before a deletion may
/// be stamped just after it, so the whole stop counts).
fn committed_before(
    events: &[Arc<Event>],
    s: &Subject,
    start: &StartFromNone,
) -> BTreeMap<i32, i64> {
    // Up to and with the start's own millisecond: a deletion and the enable that follows it
    // often share one.
    let gone_ms = events
        .iter()
        .take_while(|e| e.at_ms <= start.at_ms)
        .filter(
            |e| matches!(&e.kind, EventKind::OffsetsGone { group, .. } if s.groups.contains(group)),
        )
        .map(|e| e.at_ms)
        .last();
    let mut committed: BTreeMap<i32, (u64, i64)> = BTreeMap::new();
    for (at_ms, _, partition, offset) in super::commits(events, s) {
        if at_ms <= start.at_ms {
            committed.insert(partition, (at_ms, offset));
        }
    }
    if gone_ms.is_some_and(|gone| gone >= start.stopped_ms) {
        return BTreeMap::new();
    }
    committed
        .into_iter()
        .filter(|&(_, (t, _))| gone_ms.is_none_or(|gone| t > gone))
        .map(|(p, (_, o))| (p, o))
        .collect()
}

/// Every start after all pollers stopped resumed each partition at or above its committed offset.
pub(super) fn resume_of(events: &[Arc<Event>], s: &Subject, invocations: &[Inv]) -> Verdict {
    let mut evidence = Vec::new();
    let (mut judged, mut replays) = (0usize, 0usize);
    for start in starts_from_none(events, &s.mapping) {
        let (at_ms, action) = (start.at_ms, &start.action);
        for (partition, committed) in committed_before(events, s, &start) {
            let first = invocations
                .iter()
                .filter(|i| i.start_ms >= at_ms && i.reached_function())
                .find_map(|i| {
                    let lowest = i.records.iter().filter(|&&(p, _)| p == partition).min()?;
                    Some((lowest.1, i.id, i.start_ms))
                });
            let Some((offset, id, start_ms)) = first else {
                continue;
            };
            judged += 1;
            if offset < committed {
                replays += 1;
                push_evidence(&mut evidence, || {
                    format!(
                        "partition {partition}: the group had committed offset {committed} before \
                         the mapping was {action} at {at_ms} ms, yet invocation #{id} at {start_ms} ms \
                         began at offset {offset}: records already done were invoked again"
                    )
                });
            }
        }
    }
    let summary = format!(
        "{replays} of {judged} partition start(s) after a stop began below the committed offset of {}",
        s.topic
    );
    verdict("resume", replays == 0, summary, evidence)
}

#[cfg(test)]
mod tests {
    use super::super::{invocations, tests::*};
    use super::*;
    use crate::history::{LifecycleAction, OffsetsGoneCause};

    fn lifecycle(at_ms: u64, action: LifecycleAction, pollers: u32) -> Arc<Event> {
        ev(
            at_ms,
            EventKind::Lifecycle {
                mapping: "esm".into(),
                action,
                pollers,
            },
        )
    }

    fn gone(at_ms: u64, cause: OffsetsGoneCause) -> Arc<Event> {
        ev(
            at_ms,
            EventKind::OffsetsGone {
                group: "g".into(),
                cause,
            },
        )
    }

    fn judge(events: &[Arc<Event>]) -> Verdict {
        let s = subject();
        resume_of(events, &s, &invocations(events, T, &s.function))
    }

    fn stop_then_start(first_after_restart: i64) -> Vec<Arc<Event>> {
        vec![
            lifecycle(0, LifecycleAction::Started, 1),
            ok(1, 10, 20, &[(0, 0), (0, 1), (0, 2)]),
            commit(30, 0, 3),
            lifecycle(40, LifecycleAction::Killed, 0),
            lifecycle(50, LifecycleAction::Restarted, 1),
            ok(2, 60, 70, &[(0, first_after_restart), (0, 3)]),
        ]
    }

    #[test]
    fn a_restart_that_resumes_at_the_committed_offset_passes() {
        let v = judge(&stop_then_start(3));
        assert!(v.ok, "{v:?}");
        assert!(v.summary.starts_with("0 of 1 partition start(s)"), "{v:?}");
    }

    #[test]
    fn a_restart_that_invokes_a_committed_record_again_is_a_replay() {
        let v = judge(&stop_then_start(1));
        assert!(!v.ok, "{v:?}");
        assert!(
            v.evidence[0].contains("committed offset 3 before the mapping was restarted"),
            "{v:?}"
        );
        assert!(v.evidence[0].contains("began at offset 1"), "{v:?}");
    }

    #[test]
    fn offsets_seen_gone_after_the_commit_leave_the_start_to_the_start_checker() {
        let mut events = stop_then_start(0);
        events.insert(4, gone(45, OffsetsGoneCause::Expired));
        let v = judge(&events);
        assert!(v.ok, "{v:?}");
        assert!(v.summary.starts_with("0 of 0"), "{v:?}");
    }

    #[test]
    fn a_commit_stamped_after_a_deletion_while_stopped_is_not_judged() {
        // The observer read offset 3 before the deletion at 45 and stamped it at 46.
        let mut events = stop_then_start(0);
        events.insert(4, gone(45, OffsetsGoneCause::Deleted));
        events.insert(5, commit(46, 0, 3));
        let v = judge(&events);
        assert!(v.ok, "{v:?}");
        assert!(v.summary.starts_with("0 of 0"), "{v:?}");
    }

    #[test]
    fn a_deletion_in_the_same_millisecond_as_the_start_is_seen() {
        let mut events = stop_then_start(0);
        events.insert(4, gone(50, OffsetsGoneCause::Deleted));
        assert!(judge(&events).summary.starts_with("0 of 0"));
    }

    #[test]
    fn a_poller_kill_with_others_running_is_not_a_start_from_none() {
        let events = vec![
            lifecycle(0, LifecycleAction::Started, 2),
            commit(30, 0, 3),
            lifecycle(40, LifecycleAction::PollerKilled, 1),
            lifecycle(50, LifecycleAction::RestartedAfterPollerKill, 2),
            ok(2, 60, 70, &[(0, 1)]),
        ];
        assert!(judge(&events).summary.starts_with("0 of 0"));
    }

    #[test]
    fn a_deletion_before_the_stop_leaves_later_commits_judged() {
        let mut events = stop_then_start(1);
        events.insert(2, gone(25, OffsetsGoneCause::Deleted));
        let v = judge(&events);
        assert!(!v.ok, "{v:?}");
    }

    #[test]
    fn a_commit_in_the_deletions_millisecond_is_not_trusted() {
        let mut events = stop_then_start(1);
        events.remove(2);
        events.insert(2, gone(25, OffsetsGoneCause::Deleted));
        events.insert(3, commit(25, 0, 3));
        let v = judge(&events);
        assert!(v.ok, "{v:?}");
        assert!(v.summary.starts_with("0 of 0"), "{v:?}");
    }

    #[test]
    fn the_stop_is_the_first_of_two_stop_events() {
        // Deleted at 42, while stopped since 40; a commit read before the deletion is stamped
        // at 43; a second stop at 45 does not move the stop.
        let mut events = stop_then_start(1);
        events.remove(2);
        events.insert(3, gone(42, OffsetsGoneCause::Deleted));
        events.insert(4, commit(43, 0, 3));
        events.insert(5, lifecycle(45, LifecycleAction::Disabled, 0));
        let v = judge(&events);
        assert!(v.ok, "{v:?}");
        assert!(v.summary.starts_with("0 of 0"), "{v:?}");
    }

    #[test]
    fn a_stop_while_already_stopped_is_not_a_start() {
        let mut events = stop_then_start(3);
        events.insert(4, lifecycle(45, LifecycleAction::Disabled, 0));
        let v = judge(&events);
        assert!(v.ok, "{v:?}");
        assert!(v.summary.starts_with("0 of 1 partition start(s)"), "{v:?}");
    }
}
