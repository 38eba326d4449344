//! The scenario's topics: what it calls them, what the broker calls them, how many partitions
//! they have, and the number of the next record produced to each.

use super::{Result, usage};
use std::collections::BTreeMap;
use std::ops::Range;

/// Partitions a topic step may ask for.
const PARTITIONS: std::ops::RangeInclusive<i32> = 1..=1000;

struct TopicState {
    real: String,
    partitions: i32,
    /// The number in the value of the next record produced ("order-1" is 1).
    next_value: u64,
}

/// Scenario-local name → topic, for the topics created on the broker.
#[derive(Default)]
pub(super) struct Topics {
    by_local: BTreeMap<String, TopicState>,
}

impl Topics {
    /// Refuses a partition count no topic step may ask for, before the broker is asked.
    pub(super) fn check_partitions(local: &str, partitions: i32) -> Result<()> {
        if PARTITIONS.contains(&partitions) {
            return Ok(());
        }
        Err(usage(format!(
            "topic {local}: {partitions} partitions; allowed 1 to 1000"
        )))
    }

    /// Records a topic the broker has just created; its records are numbered from 1.
    pub(super) fn created(&mut self, local: &str, real: String, partitions: i32) {
        let state = TopicState {
            real,
            partitions,
            next_value: 1,
        };
        self.by_local.insert(local.to_string(), state);
    }

    pub(super) fn contains(&self, local: &str) -> bool {
        self.by_local.contains_key(local)
    }

    /// The broker's name of a topic the scenario created.
    pub(super) fn real(&self, local: &str) -> Result<String> {
        self.by_local
            .get(local)
            .map(|t| t.real.clone())
            .ok_or_else(|| usage(format!("no topic {local:?} in this scenario")))
    }

    /// Whether `real` (a broker name) is one of the scenario's topics.
    pub(super) fn holds_real(&self, real: &str) -> bool {
        self.by_local.values().any(|t| t.real == real)
    }

    /// The broker names of every topic.
    pub(super) fn reals(&self) -> Vec<String> {
        self.by_local.values().map(|t| t.real.clone()).collect()
    }

    /// Partitions of a topic; a topic not created yet counts as one (it will be created so).
    pub(super) fn partitions(&self, local: &str) -> i32 {
        self.by_local.get(local).map_or(1, |t| t.partitions)
    }

    /// After the broker added partitions to a topic.
    pub(super) fn grown(&mut self, local: &str, partitions: i32) {
        if let Some(t) = self.by_local.get_mut(local) {
            t.partitions = partitions;
        }
    }

    /// Reserves the numbers of the next `count` records of a topic.
    pub(super) fn reserve_values(&mut self, local: &str, count: u64) -> Result<Range<u64>> {
        let topic = self
            .by_local
            .get_mut(local)
            .ok_or_else(|| usage(format!("no topic {local:?} in this scenario")))?;
        let first = topic.next_value;
        topic.next_value += count;
        Ok(first..first + count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_numbers_follow_on_and_partitions_grow() {
        let mut topics = Topics::default();
        assert!(Topics::check_partitions("orders", 0).is_err());
        assert!(Topics::check_partitions("orders", 1000).is_ok());
        assert!(topics.reserve_values("orders", 1).is_err());
        topics.created("orders", "s1-orders".into(), 2);
        assert_eq!(topics.reserve_values("orders", 3).unwrap(), 1..4);
        assert_eq!(topics.reserve_values("orders", 2).unwrap(), 4..6);
        assert_eq!(topics.partitions("orders"), 2);
        assert_eq!(topics.partitions("payments"), 1);
        topics.grown("orders", 4);
        assert_eq!(topics.partitions("orders"), 4);
        assert!(topics.holds_real("s1-orders"));
        assert_eq!(topics.real("orders").unwrap(), "s1-orders");
        assert!(topics.real("payments").is_err());
    }
}
