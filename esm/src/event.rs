//! The event sent to the function (ESM-SPEC section 2), encoded straight into bytes.

/// The Invoke API's request body limit; a batch closes before passing it.
pub const PAYLOAD_LIMIT_BYTES: usize = 6_291_456;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// One Kafka record as the consumer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// In the order the record carries them; repeated keys kept.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// What every event of a mapping shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// `"SelfManagedKafka"` or `"aws:kafka"`.
    pub event_source: String,
    pub event_source_arn: Option<String>,
    /// Comma-separated, as the event's `bootstrapServers`.
    pub bootstrap_servers: String,
}

/// Encodes the event for `records`, grouped under `"<topic>-<partition>"` keys in the order the
/// partitions first appear, each list in the order given.
pub fn encode_event(ctx: &EventContext, records: &[KafkaRecord]) -> Vec<u8> {
    let _ = (ctx, records);
    todo!()
}

/// Bytes the event takes with no records: the envelope.
pub fn envelope_len(ctx: &EventContext) -> usize {
    let _ = ctx;
    todo!()
}

/// Upper bound on the bytes `record` adds to an event body (including its partition key, list
/// brackets and separators), so a batch can close before [`PAYLOAD_LIMIT_BYTES`].
pub fn record_encoded_len(record: &KafkaRecord) -> usize {
    let _ = record;
    todo!()
}
