//! Network faults between a mapping's pollers and the broker: the broker advertises proxies, so
//! every phrase here needs a broker of the scenario's own (`needs ProxiedNetwork`).

use super::Concept;

step! {
    /// The mapping's traffic to the broker stops for this long, then heals.
    CUT: r#"the network between "esm" and the broker is cut for 10 seconds"#,
    ["the network between ", q!(), r" and the broker is cut for (\d+) seconds?"],
    needs ProxiedNetwork,
    |s, a| Ok(s.cut_network(&a.text(1), a.num(2)?).await?)
}

step! {
    /// Delays the mapping's traffic to and from the broker by this much.
    SLOW: r#"the network between "esm" and the broker is slowed by 300 ms"#,
    ["the network between ", q!(), r" and the broker is slowed by (\d+) ms"],
    needs ProxiedNetwork,
    |s, a| Ok(s.slow_network(&a.text(1), a.num(2)?).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Network",
    steps: &[CUT, SLOW],
};
