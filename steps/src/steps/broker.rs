//! The Kafka broker: the run's shared one, one of the scenario's own, a cluster, and the faults
//! that restart or kill its nodes. A new broker fault goes here, declaring `needs OwnBroker`.

use super::Concept;

step! {
    /// The run's shared broker, or one of the scenario's own when another step needs it.
    BROKER: "a Kafka broker",
    ["a Kafka broker"],
    |s, a| Ok(s.use_broker(1, None).await?)
}

step! {
    /// Kafka's floor, as the shared broker has it: the run's shared broker.
    BROKER_WITH_SHARED_RETENTION: "a Kafka broker with offsets retention of 1 minute",
    [r"a Kafka broker with offsets retention of (1) minutes?"],
    |s, a| Ok(s.use_broker(1, Some(a.num(1)?)).await?)
}

step! {
    /// Any other `offsets.retention.minutes`: a broker of the scenario's own.
    BROKER_WITH_RETENTION: "a Kafka broker with offsets retention of 5 minutes",
    [r"a Kafka broker with offsets retention of ([02-9]|\d{2,}) minutes?"],
    needs OwnBroker,
    |s, a| Ok(s.use_broker(1, Some(a.num(1)?)).await?)
}

step! {
    /// A KRaft cluster of its own; its JVMs take three own-broker slots.
    CLUSTER: "a Kafka cluster of 3 brokers",
    [r"a Kafka cluster of (\d+) brokers?"],
    needs OwnCluster,
    |s, a| Ok(s.use_broker(a.num(1)?, None).await?)
}

step! {
    /// Stops the broker and starts it again.
    RESTART: "the broker is restarted",
    ["the broker is restarted"],
    needs OwnBroker,
    |s, a| Ok(s.restart_broker().await?)
}

step! {
    /// SIGKILL of one node of the cluster (numbered from 1).
    KILL_NODE: "broker 2 is killed",
    [r"broker (\d+) is killed"],
    needs OwnBroker,
    |s, a| Ok(s.kill_broker_node(a.num(1)?).await?)
}

step! {
    /// Starts a killed node again.
    START_NODE: "broker 2 is started",
    [r"broker (\d+) is started"],
    needs OwnBroker,
    |s, a| Ok(s.start_broker_node(a.num(1)?).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Broker",
    steps: &[
        BROKER,
        BROKER_WITH_SHARED_RETENTION,
        BROKER_WITH_RETENTION,
        CLUSTER,
        RESTART,
        KILL_NODE,
        START_NODE,
    ],
};
