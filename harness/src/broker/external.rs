//! An existing cluster (MSK, a compose cluster): the harness only connects to it.

use super::{BackendKind, BrokerError};

pub(super) struct ExternalCluster {
    servers: String,
}

impl ExternalCluster {
    pub(super) fn new(servers: &str) -> Self {
        Self {
            servers: servers.trim().to_string(),
        }
    }

    pub(super) fn bootstrap_servers(&self) -> String {
        self.servers.clone()
    }

    /// The number of bootstrap servers given (the real cluster may be larger).
    pub(super) fn nodes(&self) -> usize {
        self.servers
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .count()
    }
}

pub(super) fn unsupported(operation: &str) -> BrokerError {
    BrokerError::Unsupported {
        operation: operation.to_string(),
        backend: BackendKind::External,
        hint: "the external backend does not own the cluster (run with --broker local)".into(),
    }
}
