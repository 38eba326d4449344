//! The generator of random faults: a table of fault kinds with weights, as TigerBeetle's VOPR
//! picks its faults, drawn into a plan by a seeded generator. The plan is data, made before any
//! fault runs: the same seed and length give the same faults, which the scenario carries out.

use crate::history::FaultKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// What random faults draw from, and how often. Left out: function crashes (only a real
/// function crashes) and lost offsets (they break the delivery guarantees the soak checks).
pub const SCHEDULE: &[(FaultKind, u32)] = &[
    (FaultKind::PollerKill, 4),
    (FaultKind::Freeze, 3),
    (FaultKind::Rescale, 3),
    (FaultKind::MappingKill, 2),
    (FaultKind::Disable, 2),
    (FaultKind::NetworkCut, 2),
    (FaultKind::NetworkSlow, 2),
    (FaultKind::BrokerRestart, 1),
    (FaultKind::BrokerKill, 1),
];

/// Faults one plan holds at most, however long it runs.
pub const FAULTS_MAX: usize = 1_000;
/// Quiet time before each fault: at least this long.
pub const PAUSE_MIN_MS: u64 = 500;
/// Quiet time before each fault: less than this long.
pub const PAUSE_MAX_MS: u64 = 2_000;
/// The largest magnitude a fault is drawn with (see [`PlannedFault::magnitude`]).
pub const MAGNITUDE_MAX: u32 = 4;
/// Latency a slowdown adds per step of its magnitude.
pub const SLOW_LATENCY_STEP_MS: u64 = 50;
/// What the plan counts for a broker restart; the real one takes as long as the broker does.
pub const BROKER_RESTART_PLANNED_MS: u64 = 5_000;

/// One fault of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFault {
    /// Quiet time before the fault.
    pub pause_ms: u64,
    pub kind: FaultKind,
    /// 1 to [`MAGNITUDE_MAX`]: the seconds a freeze, cut, slowdown or node outage lasts, the
    /// latency steps of a slowdown, the pollers of a rescale, the quarter seconds a mapping
    /// stays disabled.
    pub magnitude: u32,
}

impl PlannedFault {
    /// How long the fault holds: a freeze, a cut, a slowdown, a node outage, a disabled spell.
    pub fn hold(&self) -> Duration {
        let magnitude = u64::from(self.magnitude);
        match self.kind {
            FaultKind::Disable => Duration::from_millis(magnitude * 250),
            _ => Duration::from_secs(magnitude),
        }
    }

    pub fn latency_ms(&self) -> u64 {
        u64::from(self.magnitude) * SLOW_LATENCY_STEP_MS
    }

    /// The time the plan counts for the fault itself, after its pause.
    pub fn planned_ms(&self) -> u64 {
        let hold_ms = u64::try_from(self.hold().as_millis()).unwrap_or(u64::MAX);
        match self.kind {
            FaultKind::Freeze
            | FaultKind::Disable
            | FaultKind::NetworkCut
            | FaultKind::NetworkSlow
            | FaultKind::BrokerKill => hold_ms,
            FaultKind::BrokerRestart => BROKER_RESTART_PLANNED_MS,
            FaultKind::PollerKill
            | FaultKind::MappingKill
            | FaultKind::Rescale
            | FaultKind::FunctionCrash
            | FaultKind::OffsetsDeleted
            | FaultKind::OffsetsExpiring => 0,
        }
    }
}

impl std::fmt::Display for PlannedFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "after {} ms {:?} x{}",
            self.pause_ms, self.kind, self.magnitude
        )
    }
}

/// Draws faults from `weights` until their pauses and planned times fill `duration_ms`.
pub fn plan(seed: u64, weights: &[(FaultKind, u32)], duration_ms: u64) -> Vec<PlannedFault> {
    let total: u32 = weights.iter().map(|(_, weight)| weight).sum();
    assert!(total > 0, "a fault schedule needs a kind with a weight");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut faults = Vec::new();
    let mut planned_ms = 0_u64;
    while planned_ms < duration_ms && faults.len() < FAULTS_MAX {
        let fault = PlannedFault {
            pause_ms: rng.random_range(PAUSE_MIN_MS..PAUSE_MAX_MS),
            kind: draw(&mut rng, weights, total),
            magnitude: rng.random_range(1..=MAGNITUDE_MAX),
        };
        planned_ms += fault.pause_ms + fault.planned_ms();
        faults.push(fault);
    }
    faults
}

/// One kind, each with the chance of its weight among `total`.
fn draw(rng: &mut StdRng, weights: &[(FaultKind, u32)], total: u32) -> FaultKind {
    let mut ticket = rng.random_range(0..total);
    for &(kind, weight) in weights {
        if ticket < weight {
            return kind;
        }
        ticket -= weight;
    }
    unreachable!("the ticket is below the sum of the weights")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const THIRTY_SECONDS_MS: u64 = 30_000;

    #[test]
    fn the_same_seed_plans_the_same_faults() {
        for seed in [0, 1, 42, u64::MAX] {
            assert_eq!(
                plan(seed, SCHEDULE, THIRTY_SECONDS_MS),
                plan(seed, SCHEDULE, THIRTY_SECONDS_MS)
            );
        }
        assert_ne!(
            plan(1, SCHEDULE, THIRTY_SECONDS_MS),
            plan(2, SCHEDULE, THIRTY_SECONDS_MS)
        );
    }

    #[test]
    fn every_weighted_kind_is_drawn_over_many_seeds() {
        let drawn: BTreeSet<FaultKind> = (0..200)
            .flat_map(|seed| plan(seed, SCHEDULE, THIRTY_SECONDS_MS))
            .map(|fault| fault.kind)
            .collect();
        let weighted: BTreeSet<FaultKind> = SCHEDULE.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(drawn, weighted);
    }

    #[test]
    fn a_kind_without_weight_is_never_drawn() {
        let table = [(FaultKind::Freeze, 1), (FaultKind::BrokerRestart, 0)];
        let kinds: BTreeSet<FaultKind> = (0..50)
            .flat_map(|seed| plan(seed, &table, THIRTY_SECONDS_MS))
            .map(|fault| fault.kind)
            .collect();
        assert_eq!(kinds, BTreeSet::from([FaultKind::Freeze]));
    }

    #[test]
    fn a_plan_fills_its_time_and_stays_bounded() {
        for seed in 0..50 {
            let faults = plan(seed, SCHEDULE, THIRTY_SECONDS_MS);
            let planned_ms: u64 = faults.iter().map(|f| f.pause_ms + f.planned_ms()).sum();
            let last = faults.last().expect("a plan of 30 seconds holds a fault");
            assert!(planned_ms >= THIRTY_SECONDS_MS);
            assert!(planned_ms - (last.pause_ms + last.planned_ms()) < THIRTY_SECONDS_MS);
            assert!(
                faults
                    .iter()
                    .all(|f| (1..=MAGNITUDE_MAX).contains(&f.magnitude))
            );
        }
        let forever = plan(7, &[(FaultKind::PollerKill, 1)], u64::MAX);
        assert_eq!(forever.len(), FAULTS_MAX);
    }
}
