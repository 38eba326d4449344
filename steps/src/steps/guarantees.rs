//! The guarantees: checkers run over the scenario's whole recorded history. A new checker goes
//! into `harness::check` (and `check::all`); a phrase here only when it is asserted alone.

use super::Concept;
use harness::check;

step! {
    /// No commit ran ahead of the records that succeeded.
    NO_COMMIT_AHEAD: "no offset was committed before its records succeeded",
    ["no offset was committed before its records succeeded"],
    |s, a| Ok(s.run_checks(None, |e, subject| vec![check::commit_safety(e, subject)]).await?)
}

step! {
    /// Per partition, the function saw records in offset order.
    OFFSET_ORDER: r#"each partition of "orders" reached "process" in offset order"#,
    ["each partition of ", q!(), " reached ", q!(), " in offset order"],
    |s, a| Ok(s.run_checks(Some(&a.text(1)), |e, subject| vec![check::order(e, subject)]).await?)
}

step! {
    /// Never two invocations of one partition at once.
    SINGLE_IN_FLIGHT: r#"at most one invocation per partition of "orders" was in flight at any time"#,
    ["at most one invocation per partition of ", q!(), " was in flight at any time"],
    |s, a| {
        let topic = a.text(1);
        Ok(s.run_checks(Some(&topic), |e, subject| {
            vec![check::single_in_flight(e, subject)]
        })
        .await?)
    }
}

step! {
    /// Every checker: nothing lost, order, no commit ahead of success, one in flight per
    /// partition, the start position, well-formed events and destination records.
    EVERY_GUARANTEE: "every guarantee holds",
    ["every guarantee holds"],
    |s, a| Ok(s.run_checks(None, check::all).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Guarantees",
    steps: &[
        NO_COMMIT_AHEAD,
        OFFSET_ORDER,
        SINGLE_IN_FLIGHT,
        EVERY_GUARANTEE,
    ],
};
