//! Random faults: a seeded schedule drawn by the harness's nemesis, replayable with the run's
//! seed. A new kind of random fault goes into `harness::nemesis`, not here.

use super::Concept;

step! {
    /// A seeded schedule of faults on the mapping for this long, replayable with the run's
    /// seed; the pollers end as they began.
    RANDOM_FAULTS: r#"random faults hit the mapping "esm" for 30 seconds"#,
    ["random faults hit the mapping ", q!(), r" for (\d+) seconds?"],
    needs ProxiedNetwork,
    |s, a| Ok(s.chaos(&a.text(1), a.num(2)?).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Random faults",
    steps: &[RANDOM_FAULTS],
};
