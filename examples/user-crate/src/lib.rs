//! Stands for your own crate: the code behind your Lambda function lives here, and
//! `tests/esm.rs` checks the Kafka event source mapping feeding it with esm-chaos scenarios.

/// The value your producer writes for order `n` (the scenarios produce "order-1", "order-2", …).
pub fn order_value(n: u64) -> String {
    format!("order-{n}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn order_values_match_the_produced_records() {
        assert_eq!(super::order_value(30), "order-30");
    }
}
