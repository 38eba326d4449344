//! Scenario-local names: "orders" in a scenario becomes a unique name on the broker, so
//! scenarios run concurrently on one broker without seeing each other.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Kafka's limit on topic and group names we stay under, with room for the prefix.
pub const LOCAL_NAME_LEN_MAX: usize = 200;

#[derive(Clone)]
pub struct Names {
    prefix: String,
    map: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Names {
    /// `scenario_id` must be unique per run and broker; it is sanitised to Kafka's name alphabet.
    pub fn new(scenario_id: &str) -> Self {
        let prefix: String = scenario_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        Names {
            prefix,
            map: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// The broker name for a scenario-local name; the same local name always maps the same way.
    pub fn real(&self, local: &str) -> String {
        assert!(
            local.len() <= LOCAL_NAME_LEN_MAX,
            "name {local:?} is longer than {LOCAL_NAME_LEN_MAX} characters"
        );
        let mut map = self.map.lock().expect("names lock poisoned");
        map.entry(local.to_string())
            .or_insert_with(|| format!("{}.{}", self.prefix, local))
            .clone()
    }

    /// The scenario-local name of a broker name, if this scenario made it.
    pub fn local(&self, real: &str) -> Option<String> {
        let map = self.map.lock().expect("names lock poisoned");
        map.iter()
            .find(|(_, r)| r.as_str() == real)
            .map(|(l, _)| l.clone())
    }

    /// Replaces every broker name of this scenario in `text` by its local name (for messages).
    pub fn localise(&self, text: &str) -> String {
        let map = self.map.lock().expect("names lock poisoned");
        let mut pairs: Vec<_> = map.iter().collect();
        // Longest first, so "s.orders-dlq" is not half-replaced by "s.orders".
        pairs.sort_by_key(|(_, real)| std::cmp::Reverse(real.len()));
        pairs
            .into_iter()
            .fold(text.to_string(), |acc, (local, real)| {
                acc.replace(real.as_str(), local)
            })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_and_is_stable() {
        let names = Names::new("s1 checkout/flow");
        let orders = names.real("orders");
        assert_eq!(orders, "s1-checkout-flow.orders");
        assert_eq!(names.real("orders"), orders);
        assert_eq!(names.local(&orders).as_deref(), Some("orders"));
        assert_eq!(names.local("other"), None);
    }

    #[test]
    fn localise_prefers_the_longest_name() {
        let names = Names::new("s");
        let dlq = names.real("orders-dlq");
        let orders = names.real("orders");
        let text = format!("{dlq} and {orders}");
        assert_eq!(names.localise(&text), "orders-dlq and orders");
    }
}
