//! What a scenario asks of the broker, decided before it starts from what each of its steps
//! declares (every phrase states its [`Needs`] beside its body), never from the step wording.

use std::collections::BTreeSet;

/// What one step needs of the broker; the scenario takes the most any of its steps needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Needs {
    /// Runs on the broker every plain scenario shares.
    #[default]
    SharedBroker,
    /// Restarts or kills the broker, or configures it otherwise: a broker of its own.
    OwnBroker,
    /// Several JVMs: a broker of its own that takes three own-broker slots.
    OwnCluster,
    /// Cuts or slows the network: a broker of its own that advertises proxies.
    ProxiedNetwork,
}

impl Needs {
    /// How the vocabulary's reference names it.
    pub fn describe(self) -> &'static str {
        match self {
            Needs::SharedBroker => "shared broker",
            Needs::OwnBroker => "own broker",
            Needs::OwnCluster => "own cluster",
            Needs::ProxiedNetwork => "own broker, proxied",
        }
    }
}

/// A step's part in the start look-ahead: a start followed at once by a refused start of the
/// same mapping must not fail the scenario itself (the refusal is what is asserted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartRole {
    #[default]
    None,
    /// Starts the mapping it names.
    Starts,
    /// Asserts that the mapping it names fails to start.
    RefusesStart,
}

/// One step as its definition declares it, with the mapping it names when it has a start role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeclaredStep<'a> {
    pub needs: Needs,
    pub start: StartRole,
    pub mapping: Option<&'a str>,
}

/// What a scenario's steps ask of the broker, and the look-ahead its start steps need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Isolation {
    /// A broker of its own (it restarts or kills brokers, cuts the network, asks for another
    /// retention or a cluster).
    pub own_broker: bool,
    /// Several JVMs: it starts beside the shared pool but beside no other broker of its own.
    pub own_cluster: bool,
    /// It cuts or slows the network: the broker advertises proxies.
    pub proxied: bool,
    /// Mappings whose start step is followed at once by a refused start: that start must not
    /// fail the scenario itself.
    pub refused_starts: BTreeSet<String>,
}

impl Isolation {
    /// Combines the declarations of a scenario's steps, in order.
    pub fn of_steps<'a>(steps: impl IntoIterator<Item = DeclaredStep<'a>>) -> Isolation {
        let mut isolation = Isolation::default();
        let mut just_started: Option<&str> = None;
        for step in steps {
            if step.start == StartRole::RefusesStart
                && let (Some(refused), Some(started)) = (step.mapping, just_started)
                && refused == started
            {
                isolation.refused_starts.insert(refused.to_string());
            }
            just_started = step.mapping.filter(|_| step.start == StartRole::Starts);
            isolation.own_broker |= step.needs != Needs::SharedBroker;
            isolation.own_cluster |= step.needs == Needs::OwnCluster;
            isolation.proxied |= step.needs == Needs::ProxiedNetwork;
        }
        isolation
    }

    /// Own-broker slots (broker JVMs) the scenario takes: a cluster takes
    /// [`CLUSTER_SLOTS`], so on a machine with more slots one broker of its own may run beside it.
    pub fn slot_weight(&self) -> u32 {
        if self.own_cluster { CLUSTER_SLOTS } else { 1 }
    }
}

/// What a cluster weighs: the JVMs of the 3-node cluster the features ask for (the slot count
/// is clamped to the machine's, so a cluster never waits for more slots than exist).
pub const CLUSTER_SLOTS: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    fn needing(needs: &[Needs]) -> Isolation {
        Isolation::of_steps(needs.iter().map(|&needs| DeclaredStep {
            needs,
            ..DeclaredStep::default()
        }))
    }

    fn start(role: StartRole, mapping: &str) -> DeclaredStep<'_> {
        DeclaredStep {
            start: role,
            mapping: Some(mapping),
            ..DeclaredStep::default()
        }
    }

    #[test]
    fn isolation_combines_the_declarations() {
        assert_eq!(
            needing(&[Needs::SharedBroker, Needs::SharedBroker]),
            Isolation::default()
        );
        let own = needing(&[Needs::SharedBroker, Needs::OwnBroker]);
        assert!(own.own_broker && !own.proxied && !own.own_cluster);
        let network = needing(&[Needs::ProxiedNetwork]);
        assert!(network.own_broker && network.proxied);
        let both = needing(&[Needs::OwnCluster, Needs::ProxiedNetwork]);
        assert!(both.own_broker && both.own_cluster && both.proxied);
    }

    #[test]
    fn a_cluster_takes_every_own_broker_slot() {
        assert_eq!(needing(&[Needs::OwnBroker]).slot_weight(), 1);
        assert_eq!(needing(&[Needs::OwnCluster]).slot_weight(), CLUSTER_SLOTS);
    }

    #[test]
    fn a_start_followed_by_a_refusal_is_looked_ahead() {
        let refused = |steps: &[DeclaredStep]| Isolation::of_steps(steps.to_vec()).refused_starts;
        let started = start(StartRole::Starts, "esm");
        let refusal = start(StartRole::RefusesStart, "esm");
        assert!(refused(&[started, refusal]).contains("esm"));
        assert!(refused(&[started, DeclaredStep::default(), refusal]).is_empty());
        assert!(refused(&[start(StartRole::Starts, "other"), refusal]).is_empty());
        assert!(refused(&[refusal]).is_empty());
    }
}
