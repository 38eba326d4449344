//! What the steps assert, each failing with what it saw.

use super::*;
use crate::history::{self, Event, InvocationOutcome, RecordRef};

impl Scenario {
    pub(super) fn topic_real(&self, local: &str) -> Result<String> {
        self.topics.real(local)
    }

    /// The records of each invocation of `function`, from the history: the one store of
    /// invocations.
    pub(super) fn invoked_records(&self, function: &str) -> Vec<Vec<RecordRef>> {
        history::invocations(&self.history.snapshot())
            .filter(|inv| inv.function == function)
            .map(|inv| inv.records.to_vec())
            .collect()
    }

    pub(super) fn invocation_count(&self, function: &str) -> usize {
        history::invocations(&self.history.snapshot())
            .filter(|inv| inv.function == function)
            .count()
    }

    /// A function was sent an event that is not a valid Kafka event: that fails any assertion.
    pub(super) fn assert_no_malformed(&self) -> Result<()> {
        let events = self.history.snapshot();
        let malformed: Vec<(&str, &str)> = history::invocations(&events)
            .filter_map(|inv| inv.malformed.map(|why| (inv.function, why)))
            .collect();
        match malformed.first() {
            None => Ok(()),
            Some((function, why)) => Err(failed(format!(
                "the function received {} malformed events; first: {}",
                malformed.len(),
                self.names.localise(&format!("{function}: {why}"))
            ))),
        }
    }

    /// Produced records of a topic, (partition, offset) → value.
    pub(super) fn produced(&self, topic_real: &str) -> BTreeMap<(i32, i64), Option<String>> {
        self.history
            .snapshot()
            .into_iter()
            .filter_map(|e| match &e.kind {
                EventKind::Produced {
                    topic,
                    partition,
                    offset,
                    value,
                    ..
                } if **topic == *topic_real => Some(((*partition, *offset), value.clone())),
                _ => None,
            })
            .collect()
    }

    /// "within N seconds F has received every record of T [exactly once | N times]".
    /// `times`: None = at least once; Some(n) = each record exactly n times.
    pub async fn await_every_record(
        &mut self,
        function: &str,
        local: &str,
        timeout: Duration,
        times: Option<u32>,
    ) -> Result<()> {
        self.await_producers(local).await?;
        let topic = self.topic_real(local)?;
        let at_least = times.unwrap_or(1);
        let mut tally = DeliveryTally::new(self.produced(&topic).into_keys(), at_least);
        let what = format!("{function:?} to receive every record of {local:?} {at_least} time(s)");
        wait::until(&what, timeout, || {
            let (events, cursor) = self.history.since(tally.cursor);
            tally.absorb(&events, cursor, &topic, function);
            std::future::ready(tally.verdict())
        })
        .await
        .map_err(|e| failed(self.names.localise(&e.to_string())))?;
        if let Some(exact) = times {
            self.assert_at_most(function, &topic, local, exact)?;
        }
        self.assert_no_malformed()
    }

    /// "F received every record of T at most N times".
    pub async fn assert_every_record_at_most(
        &mut self,
        function: &str,
        local: &str,
        max: u32,
    ) -> Result<()> {
        self.await_producers(local).await?;
        let topic = self.topic_real(local)?;
        let counts = check::delivery_counts(&self.history.snapshot(), &topic, function);
        let missing: Vec<_> = self
            .produced(&topic)
            .into_keys()
            .filter(|k| !counts.contains_key(k))
            .collect();
        if !missing.is_empty() {
            return Err(failed(format!(
                "{} records of {local:?} never reached {function:?}; first: {}",
                missing.len(),
                describe_keys(&missing.iter().collect::<Vec<_>>())
            )));
        }
        self.assert_at_most(function, &topic, local, max)?;
        self.assert_no_malformed()
    }

    pub(super) fn assert_at_most(
        &self,
        function: &str,
        topic: &str,
        local: &str,
        max: u32,
    ) -> Result<()> {
        let counts = check::delivery_counts(&self.history.snapshot(), topic, function);
        let over: Vec<_> = counts.iter().filter(|(_, n)| **n > max).collect();
        if over.is_empty() {
            return Ok(());
        }
        let sample: Vec<String> = over
            .iter()
            .take(5)
            .map(|((p, o), n)| format!("partition {p} offset {o}: {n} times"))
            .collect();
        Err(failed(format!(
            "{} records of {local:?} reached {function:?} more than {max} time(s): {}",
            over.len(),
            sample.join(", ")
        )))
    }

    /// Committed offsets of a group on a topic, straight from the broker.
    pub(super) async fn committed(
        &self,
        local_group: &str,
        local_topic: &str,
    ) -> Result<BTreeMap<i32, i64>> {
        let group = self.names.real(local_group);
        let topic = self.topic_real(local_topic)?;
        Ok(self.admin()?.committed_offsets(&group, &topic).await?)
    }

    /// "within N seconds the group G has committed the end of T".
    pub async fn await_committed_end(
        &mut self,
        local_group: &str,
        local: &str,
        timeout: Duration,
    ) -> Result<()> {
        self.await_producers(local).await?;
        let topic = self.topic_real(local)?;
        let admin = self.admin()?;
        let group = self.names.real(local_group);
        let partitions = self.topics.partitions(local);
        let what = format!("group {local_group:?} to commit the end of {local:?}");
        wait::until(&what, timeout, || {
            let admin = admin.clone();
            let topic = topic.clone();
            let group = group.clone();
            async move {
                let committed = admin
                    .committed_offsets(&group, &topic)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut behind = Vec::new();
                for partition in 0..partitions {
                    let (_, high) = admin
                        .watermarks(&topic, partition)
                        .await
                        .map_err(|e| e.to_string())?;
                    let at = committed.get(&partition).copied();
                    if at != Some(high) {
                        behind.push(format!(
                            "partition {partition}: committed {at:?}, end {high}"
                        ));
                    }
                }
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(behind.join("; "))
                }
            }
        })
        .await
        .map_err(|e| failed(self.names.localise(&e.to_string())))?;
        Ok(())
    }

    /// "[within N seconds] the group G has committed offset O on partition P of T". Commits are
    /// asynchronous, so without "within" it settles for up to [`SETTLE_TIMEOUT_MS`].
    pub async fn assert_committed(
        &mut self,
        local_group: &str,
        local: &str,
        partition: i32,
        offset: i64,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let what = format!(
            "group {local_group:?} to have committed offset {offset} on partition {partition} of {local:?}"
        );
        let this = &*self;
        wait::until(
            &what,
            timeout.unwrap_or(Duration::from_millis(SETTLE_TIMEOUT_MS)),
            || async move {
                let committed = this
                    .committed(local_group, local)
                    .await
                    .map_err(|e| e.to_string())?;
                match committed.get(&partition) {
                    Some(o) if *o == offset => Ok(()),
                    Some(o) => Err(format!("committed offset {o}")),
                    None => Err("no committed offset".to_string()),
                }
            },
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        Ok(())
    }

    /// "the group G has committed nothing on partition P of T" (settles like
    /// [`Scenario::assert_committed`]: a commit that lands within the window is seen).
    pub async fn assert_committed_nothing(
        &mut self,
        local_group: &str,
        local: &str,
        partition: i32,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(SETTLE_TIMEOUT_MS);
        loop {
            let committed = self.committed(local_group, local).await?;
            if let Some(offset) = committed.get(&partition) {
                return Err(failed(format!(
                    "group {local_group:?} has committed offset {offset} on partition {partition} of {local:?}"
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(OBSERVE_INTERVAL_MS)).await;
        }
    }

    /// "the mapping M runs N pollers".
    pub fn assert_poller_count(&self, name: &str, count: usize) -> Result<()> {
        let running = self.running(name)?.poller_count();
        if running != count {
            return Err(failed(format!(
                "the mapping {name:?} runs {running} poller(s), expected {count}"
            )));
        }
        Ok(())
    }

    /// "within N seconds the topic T holds N records".
    pub async fn await_topic_holds(
        &mut self,
        local: &str,
        count: i64,
        timeout: Duration,
    ) -> Result<()> {
        let real = self.names.real(local);
        let admin = self.admin()?;
        let what = format!("topic {local:?} to hold {count} record(s)");
        // Exactly: a destination that got too many records, or a topic whose retention has not
        // yet deleted what it should, both fail with the count seen at the deadline.
        wait::until(&what, timeout, || {
            let admin = admin.clone();
            let real = real.clone();
            async move {
                let held = topic_size(&admin, &real).await?;
                if held == count {
                    Ok(())
                } else {
                    Err(format!("{held} record(s)"))
                }
            }
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
        self.collect_destinations().await
    }

    /// Reads every destination topic of the scenario's mappings into the history.
    pub(super) async fn collect_destinations(&mut self) -> Result<()> {
        let admin = self.admin()?;
        let mut seen: BTreeSet<(String, i32, i64)> = self
            .history
            .snapshot()
            .into_iter()
            .filter_map(|e| match &e.kind {
                EventKind::Destination {
                    topic,
                    partition,
                    offset,
                    ..
                } => Some((topic.clone(), *partition, *offset)),
                _ => None,
            })
            .collect();
        for topic in self.destination_topics() {
            if !self.topics.holds_real(&topic) {
                continue;
            }
            for record in admin.read_topic(&topic).await? {
                if seen.insert((topic.clone(), record.partition, record.offset)) {
                    self.history.record(EventKind::Destination {
                        topic: topic.clone(),
                        partition: record.partition,
                        offset: record.offset,
                        key: record
                            .key
                            .as_deref()
                            .map(|k| String::from_utf8_lossy(k).into_owned()),
                        body: String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
                            .into_owned(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The destination topics (broker names) of the mappings AWS accepts.
    pub(super) fn destination_topics(&self) -> Vec<String> {
        self.mappings
            .iter()
            .filter_map(|(_, def)| def.destination_topic())
            .map(str::to_string)
            .collect()
    }

    /// "the topic D holds a failure record for the value V with condition C".
    pub async fn assert_failure_record(
        &mut self,
        local: &str,
        value: &str,
        condition: &str,
    ) -> Result<()> {
        self.assert_failure_record_matching(local, Some(value), condition)
            .await
    }

    /// "the topic D holds a failure record with condition C".
    pub async fn assert_failure_record_condition(
        &mut self,
        local: &str,
        condition: &str,
    ) -> Result<()> {
        self.assert_failure_record_matching(local, None, condition)
            .await
    }

    /// A destination message with `condition`, for the failed record `value` when given.
    async fn assert_failure_record_matching(
        &mut self,
        local: &str,
        value: Option<&str>,
        condition: &str,
    ) -> Result<()> {
        let messages = self.destination_messages(local).await?;
        let conditions: Vec<&str> = messages
            .iter()
            .filter(|m| value.is_none_or(|v| failure_record_value(m).as_deref() == Some(v)))
            .map(|m| {
                m["requestContext"]["condition"]
                    .as_str()
                    .unwrap_or("(none)")
            })
            .collect();
        if conditions.contains(&condition) {
            return Ok(());
        }
        let subject = value
            .map(|v| format!(" for the value {v:?}"))
            .unwrap_or_default();
        Err(failed(format!(
            "topic {local:?} holds {} record(s); none{subject} with condition {condition:?} (conditions seen{subject}: {conditions:?})",
            messages.len()
        )))
    }

    /// Every message on the destination topic `local` so far, as JSON (Null if not JSON).
    async fn destination_messages(&mut self, local: &str) -> Result<Vec<Value>> {
        self.collect_destinations().await?;
        let real = self.names.real(local);
        Ok(self
            .history
            .snapshot()
            .into_iter()
            .filter_map(|e| match &e.kind {
                EventKind::Destination { topic, body, .. } if *topic == real => {
                    Some(serde_json::from_str(body).unwrap_or(Value::Null))
                }
                _ => None,
            })
            .collect())
    }

    /// "the topic D holds a failure record whose P is V / matches R": some destination message
    /// whose field at the dotted path `path` passes `test` (`expected` says how, for the error).
    pub async fn assert_failure_record_field(
        &mut self,
        local: &str,
        path: &str,
        expected: &str,
        test: &dyn Fn(&str) -> bool,
    ) -> Result<()> {
        let messages = self.destination_messages(local).await?;
        let seen: Vec<String> = messages
            .iter()
            .map(|m| json_at_path(m, path).unwrap_or_else(|| "(missing)".to_string()))
            .collect();
        if seen.iter().any(|v| test(v)) {
            return Ok(());
        }
        let sample: Vec<&String> = seen.iter().take(5).collect();
        Err(failed(format!(
            "topic {local:?} holds {} record(s); none whose {path:?} {expected} (values seen: {sample:?})",
            messages.len()
        )))
    }

    /// "an invocation of F held records of N partitions": at least N partitions in one payload.
    pub fn assert_invocation_spanning(&self, function: &str, partitions: usize) -> Result<()> {
        let invocations = self.invoked_records(function);
        let widest = invocations
            .iter()
            .map(|records| {
                records
                    .iter()
                    .map(|r| (&*r.topic, r.partition))
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .max()
            .unwrap_or(0);
        if widest >= partitions {
            return self.assert_no_malformed();
        }
        Err(failed(format!(
            "none of the {} invocations of {function:?} held records of {partitions} partitions; the most in one was {widest}",
            invocations.len()
        )))
    }

    /// "F received a record of T with an empty value": a zero-length value, not a null one.
    pub fn assert_received_empty_value(&self, function: &str, local: &str) -> Result<()> {
        self.assert_received_record(function, local, "with an empty value", |v| {
            v.is_some_and(str::is_empty)
        })
    }

    /// "F received a record of T without a value": a tombstone, its value left out.
    pub fn assert_received_null_value(&self, function: &str, local: &str) -> Result<()> {
        self.assert_received_record(function, local, "without a value", |v| v.is_none())
    }

    fn assert_received_record(
        &self,
        function: &str,
        local: &str,
        what: &str,
        test: fn(Option<&str>) -> bool,
    ) -> Result<()> {
        let topic = self.topic_real(local)?;
        let invocations = self.invoked_records(function);
        let records: Vec<&RecordRef> = invocations
            .iter()
            .flatten()
            .filter(|r| *r.topic == *topic)
            .collect();
        if records.iter().any(|r| test(r.value.as_deref())) {
            return self.assert_no_malformed();
        }
        let sample: Vec<String> = records
            .iter()
            .take(5)
            .map(|r| match &r.value {
                Some(v) => format!("{v:?}"),
                None => "null".to_string(),
            })
            .collect();
        Err(failed(format!(
            "{function:?} received {} record(s) of {local:?}, none {what}; values seen: {}",
            records.len(),
            sample.join(", ")
        )))
    }

    /// Invocations of `function` whose records include `value`.
    pub(super) fn invocations_with_value(&self, function: &str, value: &str) -> Result<usize> {
        Ok(self
            .invoked_records(function)
            .iter()
            .filter(|records| records.iter().any(|r| r.value.as_deref() == Some(value)))
            .count())
    }

    /// "F was invoked with the value V N times".
    pub fn assert_invoked_with_value(
        &self,
        function: &str,
        value: &str,
        times: usize,
    ) -> Result<()> {
        let seen = self.invocations_with_value(function, value)?;
        if seen != times {
            return Err(failed(format!(
                "{function:?} was invoked with the value {value:?} {seen} time(s), expected {times}"
            )));
        }
        self.assert_no_malformed()
    }

    /// "within N seconds F has received the value V".
    pub async fn await_value(
        &mut self,
        function: &str,
        value: &str,
        timeout: Duration,
    ) -> Result<()> {
        let this = &*self;
        wait::until(
            &format!("{function:?} to receive the value {value:?}"),
            timeout,
            || async move {
                let invocations = this.invoked_records(function);
                if invocations
                    .iter()
                    .flatten()
                    .any(|r| r.value.as_deref() == Some(value))
                {
                    Ok(())
                } else {
                    Err(format!("{} invocations, none with it", invocations.len()))
                }
            },
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        self.assert_no_malformed()
    }

    /// "F never received the value V".
    pub fn assert_never_received(&self, function: &str, value: &str) -> Result<()> {
        match self.invocations_with_value(function, value)? {
            0 => self.assert_no_malformed(),
            n => Err(failed(format!(
                "{function:?} received the value {value:?} in {n} invocation(s)"
            ))),
        }
    }

    /// "F received the header H as the bytes B".
    pub fn assert_header_bytes(&self, function: &str, header: &str, bytes: &[i8]) -> Result<()> {
        let invocations = self.invoked_records(function);
        let mut seen = Vec::new();
        for record in invocations.iter().flatten() {
            for (name, value) in &record.headers {
                if name == header {
                    if value.as_slice() == bytes {
                        return self.assert_no_malformed();
                    }
                    seen.push(value.clone());
                }
            }
        }
        Err(failed(format!(
            "{function:?} never received the header {header:?} as {bytes:?}; values seen: {seen:?}"
        )))
    }

    /// "F received no record of T produced before the mapping M started".
    pub fn assert_nothing_from_before_start(
        &self,
        function: &str,
        local: &str,
        mapping: &str,
    ) -> Result<()> {
        let topic = self.topic_real(local)?;
        let events = self.history.snapshot();
        let started_ms = events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::Lifecycle {
                    mapping: m, action, ..
                } if m == mapping && *action == crate::history::LifecycleAction::Started => {
                    Some(e.at_ms)
                }
                _ => None,
            })
            .ok_or_else(|| usage(format!("the mapping {mapping:?} was never started")))?;
        let before: BTreeSet<(i32, i64)> = events
            .iter()
            .filter(|e| e.at_ms < started_ms)
            .filter_map(|e| match &e.kind {
                EventKind::Produced {
                    topic: t,
                    partition,
                    offset,
                    ..
                } if **t == *topic => Some((*partition, *offset)),
                _ => None,
            })
            .collect();
        let counts = check::delivery_counts(&events, &topic, function);
        let leaked: Vec<_> = before.iter().filter(|k| counts.contains_key(k)).collect();
        if leaked.is_empty() {
            return self.assert_no_malformed();
        }
        Err(failed(format!(
            "{function:?} received {} of the {} records produced before {mapping:?} started; first: {}",
            leaked.len(),
            before.len(),
            describe_keys(&leaked)
        )))
    }

    /// "the mapping M fails to start with an error mentioning S" (or "errors mentioning S and
    /// T": one refusal must name them all). A start step just before it already tried.
    pub async fn assert_fails_to_start(&mut self, name: &str, texts: &[&str]) -> Result<()> {
        let attempt = match self.mappings.take_attempt(name) {
            Some(attempt) => attempt,
            None => self.attempt_refused_start(name).await?,
        };
        let (status, log) =
            attempt.map_err(|why| failed(format!("the mapping {name:?} started: {why}")))?;
        let missing: Vec<&str> = texts.iter().copied().filter(|t| !log.contains(t)).collect();
        if !missing.is_empty() {
            return Err(failed(format!(
                "the mapping {name:?} failed to start ({status}), but its error does not mention {missing:?}:\n{log}"
            )));
        }
        Ok(())
    }

    /// "the mapping M reports an offset lag of N within S seconds".
    pub async fn await_offset_lag(
        &mut self,
        name: &str,
        lag: i64,
        timeout: Duration,
    ) -> Result<()> {
        let mapping = self.running(name)?;
        wait::until(
            &format!("mapping {name:?} to report an offset lag of {lag}"),
            timeout,
            || {
                let mapping = mapping.clone();
                async move {
                    match mapping.offset_lag() {
                        Some(l) if l == lag => Ok(()),
                        Some(l) => Err(format!("lag {l}")),
                        None => Err("no lag reported yet".to_string()),
                    }
                }
            },
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        Ok(())
    }

    /// "the function F had [at least] N cold starts | timeouts | crashes | throttles".
    pub fn assert_function_events(
        &self,
        function: &str,
        what: FunctionEvent,
        count: usize,
        at_least: bool,
    ) -> Result<()> {
        let seen = functions::count_function_events(&self.history.snapshot(), function, what);
        let holds = if at_least {
            seen >= count
        } else {
            seen == count
        };
        if holds {
            return self.assert_no_malformed();
        }
        let expected = if at_least { "at least " } else { "" };
        Err(failed(format!(
            "{function:?} had {seen} {what:?} event(s), expected {expected}{count}"
        )))
    }

    /// The checkers' subject for each mapping.
    pub(super) fn subjects(&self) -> Result<Vec<Subject>> {
        let mut subjects = Vec::new();
        for (name, def) in self.mappings.iter() {
            let config = self.real_config(def.config())?;
            let topic = self.names.real(def.topic());
            let subject = Subject::from_config(name, &topic, def.function(), &def.group(), &config)
                .map_err(|e| usage(format!("the mapping {name:?}: {e}")))?;
            subjects.push(subject);
        }
        Ok(subjects)
    }

    /// Runs `select` checkers over the history; fails with every verdict that does not hold.
    /// `topic`: only mappings reading that scenario-local topic; `None`: every mapping.
    pub async fn run_checks(
        &mut self,
        topic: Option<&str>,
        select: fn(&[Arc<crate::history::Event>], &Subject) -> Vec<Verdict>,
    ) -> Result<()> {
        let producing: Vec<String> = self.producers.iter().map(|(t, _)| t.clone()).collect();
        for local in producing {
            self.await_producers(&local).await?;
        }
        self.collect_destinations().await?;
        self.assert_no_malformed()?;
        let events = self.history.snapshot();
        let mut broken = Vec::new();
        let topic = topic.map(|t| self.names.real(t));
        let subjects = self.subjects()?;
        for subject in subjects
            .iter()
            .filter(|s| topic.as_ref().is_none_or(|t| *t == s.topic))
        {
            for verdict in select(&events, subject) {
                if !verdict.ok {
                    broken.push(format!(
                        "{}: {}\n  {}",
                        verdict.checker,
                        verdict.summary,
                        verdict.evidence.join("\n  ")
                    ));
                }
            }
        }
        if broken.is_empty() {
            return Ok(());
        }
        Err(failed(self.names.localise(&broken.join("\n"))))
    }

    /// Every verdict of every checker (for the report).
    pub fn verdicts(&self) -> Vec<Verdict> {
        let events = self.history.snapshot();
        self.subjects()
            .unwrap_or_default()
            .iter()
            .flat_map(|s| check::all(&events, s))
            .collect()
    }
}

pub(super) async fn topic_size(admin: &Admin, topic: &str) -> std::result::Result<i64, String> {
    let partitions = admin
        .partition_count(topic)
        .await
        .map_err(|e| e.to_string())?;
    let mut held = 0;
    for partition in 0..partitions {
        let (low, high) = admin
            .watermarks(topic, partition)
            .await
            .map_err(|e| e.to_string())?;
        held += high - low;
    }
    Ok(held)
}

/// A field of a JSON document at a dotted path ("a.b.0.c"): strings as they are, other values
/// as JSON text; `None` when the path leads nowhere.
pub(super) fn json_at_path(json: &Value, path: &str) -> Option<String> {
    let mut node = json;
    for part in path.split('.') {
        node = match node {
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => node.get(part)?,
        };
    }
    Some(match node {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// The decoded value of the one record in a destination message's payload.
pub(super) fn failure_record_value(json: &Value) -> Option<String> {
    use base64::Engine;
    let records = json["payload"]["records"].as_object()?;
    let record = records.values().next()?.get(0)?;
    let encoded = record["value"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// What "F received every record of T N times" still waits for, fed with the history's new
/// events on each poll (at 1.2M records, copying and recounting the whole history every 100 ms
/// was the harness's largest cost).
struct DeliveryTally {
    /// Produced records still short of `at_least`, with the deliveries they still need.
    pending: BTreeMap<(i32, i64), u32>,
    produced_count: usize,
    at_least: u32,
    /// The history position read up to.
    cursor: usize,
    /// Calls the mock refused as malformed events, and the first reason: the evidence when
    /// records never arrive because their event was refused.
    refused_count: usize,
    first_refusal: Option<String>,
    throttled_count: usize,
}

impl DeliveryTally {
    fn new(produced: impl Iterator<Item = (i32, i64)>, at_least: u32) -> Self {
        let pending: BTreeMap<_, _> = produced.map(|k| (k, at_least)).collect();
        DeliveryTally {
            produced_count: pending.len(),
            pending,
            at_least,
            cursor: 0,
            refused_count: 0,
            first_refusal: None,
            throttled_count: 0,
        }
    }

    /// Counts the deliveries in `events`, the history's events from `self.cursor` to `cursor`.
    fn absorb(&mut self, events: &[Arc<Event>], cursor: usize, topic: &str, function: &str) {
        for (key, delivered) in check::delivery_counts(events, topic, function) {
            if let Some(needed) = self.pending.get_mut(&key) {
                *needed = needed.saturating_sub(delivered);
                if *needed == 0 {
                    self.pending.remove(&key);
                }
            }
        }
        for call in history::invocations(events).filter(|c| c.function == function) {
            if let Some(reason) = call.malformed {
                self.refused_count += 1;
                self.first_refusal.get_or_insert_with(|| reason.to_string());
            }
            if call.outcome == InvocationOutcome::Throttled {
                self.throttled_count += 1;
            }
        }
        self.cursor = cursor;
    }

    fn verdict(&self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let first: Vec<&(i32, i64)> = self.pending.keys().take(5).collect();
        let mut seen = format!(
            "{} of {} records received fewer than {} time(s); first: {}",
            self.pending.len(),
            self.produced_count,
            self.at_least,
            describe_keys(&first)
        );
        if let Some(reason) = &self.first_refusal {
            let n = self.refused_count;
            seen.push_str(&format!(
                "; {n} event(s) refused as malformed, first: {reason}"
            ));
        }
        if self.throttled_count > 0 {
            let n = self.throttled_count;
            seen.push_str(&format!("; {n} call(s) throttled"));
        }
        Err(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::{DeliveryTally, json_at_path};
    use crate::history::{Event, EventKind, InvocationEvent, InvocationOutcome, RecordRef};
    use serde_json::json;
    use std::sync::Arc;

    fn call(records: &[(i32, i64)], outcome: InvocationOutcome) -> Arc<Event> {
        call_of("process", records, outcome)
    }

    fn call_of(function: &str, records: &[(i32, i64)], outcome: InvocationOutcome) -> Arc<Event> {
        Arc::new(Event {
            at_ms: 0,
            kind: EventKind::Invocation(Box::new(InvocationEvent {
                function: function.into(),
                id: 0,
                start_ms: 0,
                end_ms: 0,
                records: records
                    .iter()
                    .map(|&(partition, offset)| RecordRef {
                        topic: "orders".into(),
                        partition,
                        offset,
                        value: None,
                        headers: Vec::new(),
                    })
                    .collect(),
                outcome,
                item_failures: Vec::new(),
                malformed: None,
                body: None,
            })),
        })
    }

    #[test]
    fn the_tally_counts_each_new_event_once_and_names_what_is_short() {
        let mut tally = DeliveryTally::new([(0, 0), (0, 1), (1, 0)].into_iter(), 2);
        let both = call(&[(0, 0), (0, 1)], InvocationOutcome::Success);
        tally.absorb(std::slice::from_ref(&both), 1, "orders", "process");
        let short = tally.verdict().unwrap_err();
        assert!(
            short.starts_with("3 of 3 records received fewer than 2"),
            "{short}"
        );
        tally.absorb(std::slice::from_ref(&both), 2, "orders", "process");
        assert_eq!(tally.cursor, 2);
        let short = tally.verdict().unwrap_err();
        assert!(short.starts_with("1 of 3"), "{short}");
        assert!(short.ends_with("first: partition 1 offset 0"), "{short}");
        let throttled = call(&[(1, 0)], InvocationOutcome::Throttled);
        let other_function = call_of("other", &[(1, 0)], InvocationOutcome::Success);
        tally.absorb(&[throttled, other_function], 4, "orders", "process");
        let short = tally.verdict().unwrap_err();
        assert!(short.starts_with("1 of 3"), "{short}");
        assert!(short.ends_with("; 1 call(s) throttled"), "{short}");
        let mut refused = call(&[(1, 0)], InvocationOutcome::FunctionError);
        if let EventKind::Invocation(inv) = &mut Arc::make_mut(&mut refused).kind {
            inv.malformed =
                Some("records[\"orders-1\"][0].headers: -129 is not a signed byte".into());
        }
        tally.absorb(&[refused], 5, "orders", "process");
        let short = tally.verdict().unwrap_err();
        assert!(
            short.contains(
                "; 1 event(s) refused as malformed, first: records[\"orders-1\"][0].headers"
            ),
            "{short}"
        );
        let last = call(&[(1, 0)], InvocationOutcome::Success);
        tally.absorb(&[last.clone(), last], 7, "orders", "process");
        assert_eq!(tally.verdict(), Ok(()));
    }

    #[test]
    fn dotted_paths_reach_strings_numbers_and_array_items() {
        let message = json!({
            "requestContext": { "condition": "RecordAgeExceeded" },
            "KafkaBatchInfo": { "recordInfo": { "offset": "15", "timestamp": 1_545_084_650_987_i64 } },
            "items": [ { "id": "a" } ]
        });
        let at = |path: &str| json_at_path(&message, path);
        assert_eq!(
            at("requestContext.condition").as_deref(),
            Some("RecordAgeExceeded")
        );
        assert_eq!(
            at("KafkaBatchInfo.recordInfo.timestamp").as_deref(),
            Some("1545084650987")
        );
        assert_eq!(at("items.0.id").as_deref(), Some("a"));
        assert_eq!(at("requestContext.missing"), None);
        assert_eq!(at("items.x"), None);
    }
}
