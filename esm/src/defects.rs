//! Deliberate defects, each breaking a guarantee so that the scenario written for that guarantee
//! can be shown to fail. `ESM_POLLER_DEFECT=<name>` selects one in a build with the `defects`
//! feature (never a release build); the code that breaks a guarantee is compiled only there.
//! The names are compiled in every build, so the default `cargo test` tests them.

/// The defects a scenario must catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// An out-of-range committed offset restarts at the log start whatever StartingPosition says.
    ResetToEarliest,
    /// Committed offsets are ignored on assign: StartingPosition always applies.
    IgnoreCommitted,
    /// A clean stop (SIGTERM) leaves the group without committing what succeeded.
    NoCommitOnStop,
    /// MaximumRecordAgeInSeconds is never applied.
    IgnoreRecordAge,
    /// Destination records lack `KafkaBatchInfo.payloadSize`.
    DestinationMissingField,
}

impl Defect {
    pub const ALL: [Defect; 5] = [
        Defect::ResetToEarliest,
        Defect::IgnoreCommitted,
        Defect::NoCommitOnStop,
        Defect::IgnoreRecordAge,
        Defect::DestinationMissingField,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Defect::ResetToEarliest => "reset_to_earliest",
            Defect::IgnoreCommitted => "ignore_committed",
            Defect::NoCommitOnStop => "no_commit_on_stop",
            Defect::IgnoreRecordAge => "ignore_record_age",
            Defect::DestinationMissingField => "destination_missing_field",
        }
    }

    fn parse(name: &str) -> Option<Defect> {
        Defect::ALL.into_iter().find(|d| d.name() == name.trim())
    }
}

/// Whether `defect` is the one selected by `ESM_POLLER_DEFECT`; never without the feature.
pub fn active(defect: Defect) -> bool {
    cfg!(feature = "defects")
        && std::env::var("ESM_POLLER_DEFECT")
            .ok()
            .and_then(|name| Defect::parse(&name))
            == Some(defect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_defect_parses_from_its_name_and_nothing_else_does() {
        for d in Defect::ALL {
            assert_eq!(Defect::parse(d.name()), Some(d));
        }
        assert_eq!(Defect::parse("no_such_defect"), None);
        assert_eq!(Defect::parse(""), None);
    }
}
