//! The workload: records produced now or in the background at a rate.

use super::*;

/// The oldest a produced record may be stamped: MaximumRecordAgeInSeconds' ceiling.
pub const RECORD_AGE_MAX_SECS: u64 = 604_800;

impl Scenario {
    /// "N records [with key K] are produced to T", "a record with value V …", "… header H set to V".
    pub async fn produce(
        &mut self,
        local: &str,
        count: u64,
        key: Option<&str>,
        value: Option<&str>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        if count > PRODUCE_COUNT_MAX {
            return Err(usage(format!(
                "{count} records asked for; at most {PRODUCE_COUNT_MAX} a step"
            )));
        }
        let real = self.ensure_topic(local).await?;
        let admin = self.admin()?;
        let values = self.numbered_values(local, count, |stem, n| {
            value
                .map(str::to_string)
                .unwrap_or_else(|| format!("{stem}-{n}"))
        })?;
        produce_values(&admin, &self.history, &real, key, &values, headers).await
    }

    /// Reserves the next `count` record numbers of a topic ("orders" numbers "order-1", …) and
    /// makes their values from the stem and the number.
    pub(super) fn numbered_values(
        &mut self,
        local: &str,
        count: u64,
        make: impl Fn(&str, u64) -> String,
    ) -> Result<Vec<String>> {
        let numbers = self.topics.reserve_values(local, count)?;
        let stem = local.trim_end_matches('s');
        Ok(numbers.map(|n| make(stem, n)).collect())
    }

    /// "a record with an empty value / a null value is produced to T", "a record with value V
    /// stamped N seconds ago …": one record as production writes them. `value` None is a
    /// tombstone; `age` moves its CreateTime that far into the past.
    pub async fn produce_one(
        &mut self,
        local: &str,
        value: Option<&str>,
        age: Option<Duration>,
    ) -> Result<()> {
        if let Some(age) = age
            && age.as_secs() > RECORD_AGE_MAX_SECS
        {
            return Err(usage(format!(
                "a record stamped {} seconds ago: at most {RECORD_AGE_MAX_SECS} (7 days)",
                age.as_secs()
            )));
        }
        let real = self.ensure_topic(local).await?;
        let admin = self.admin()?;
        let bytes = value.map(str::as_bytes);
        let produced = match age {
            Some(age) => {
                let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                let stamp_ms = chrono::Utc::now().timestamp_millis() - age_ms;
                admin.produce_stamped(&real, bytes, stamp_ms).await?
            }
            None => admin.produce(&real, None, bytes, &[]).await?,
        };
        record_produced(&self.history, &real, None, value, produced);
        Ok(())
    }

    /// "N records of S MB are produced to T": numbered values padded to `bytes` each.
    pub async fn produce_sized(&mut self, local: &str, count: u64, bytes: usize) -> Result<()> {
        if count > 1_000 {
            return Err(usage(format!(
                "{count} sized records asked for; at most 1000 a step"
            )));
        }
        let real = self.ensure_topic(local).await?;
        let admin = self.admin()?;
        let values = self.numbered_values(local, count, |stem, n| {
            let mut value = format!("{stem}-{n}-");
            let pad = bytes.saturating_sub(value.len());
            value.extend(std::iter::repeat_n('x', pad));
            value
        })?;
        produce_values(&admin, &self.history, &real, None, &values, &[]).await
    }

    /// "records are produced to T at R per second for S seconds": in the background.
    pub async fn produce_at_rate(
        &mut self,
        local: &str,
        per_second: u64,
        seconds: u64,
    ) -> Result<()> {
        if per_second == 0 || per_second > 100_000 || seconds > 3_600 {
            return Err(usage(format!(
                "{per_second} per second for {seconds} seconds: allowed 1 to 100000 per second, at most 3600 seconds"
            )));
        }
        let real = self.ensure_topic(local).await?;
        let admin = self.admin()?;
        let history = self.history.clone();
        let total = per_second * seconds;
        let first = self.topics.reserve_values(local, total)?.start;
        let stem = local.trim_end_matches('s').to_string();
        let handle = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            for second in 0..seconds {
                let from = first + second * per_second;
                let values: Vec<String> = (from..from + per_second)
                    .map(|n| format!("{stem}-{n}"))
                    .collect();
                // One slice of records per tick keeps the rate even without a sleep per record.
                let ticks = per_second.clamp(1, 10);
                for (i, chunk) in values
                    .chunks(values.len().div_ceil(ticks as usize))
                    .enumerate()
                {
                    let due =
                        started + Duration::from_millis(second * 1_000 + i as u64 * 1_000 / ticks);
                    tokio::time::sleep_until(due).await;
                    produce_values(&admin, &history, &real, None, chunk, &[]).await?;
                }
            }
            Ok(total)
        });
        self.producers.push((local.to_string(), handle));
        Ok(())
    }

    /// Waits for background production to `local` to finish (before "every record" assertions).
    pub(super) async fn await_producers(&mut self, local: &str) -> Result<()> {
        let mut pending = Vec::new();
        for (topic, handle) in std::mem::take(&mut self.producers) {
            if topic == local {
                pending.push(handle);
            } else {
                self.producers.push((topic, handle));
            }
        }
        for handle in pending {
            handle
                .await
                .map_err(|e| failed(format!("background production to {local} panicked: {e}")))??;
        }
        Ok(())
    }

    /// "N seconds pass": the scenario's own clock, on purpose.
    pub async fn pass_time(&mut self, seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }
}

pub(super) async fn produce_values(
    admin: &Admin,
    history: &History,
    topic: &str,
    key: Option<&str>,
    values: &[String],
    headers: &[(String, Vec<u8>)],
) -> Result<()> {
    let produced = admin
        .produce_batch(
            topic,
            values
                .iter()
                .map(|v| {
                    (
                        key.map(|k| k.as_bytes().to_vec()),
                        Some(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
            headers,
        )
        .await?;
    for (value, p) in values.iter().zip(produced) {
        record_produced(history, topic, key, Some(value), p);
    }
    Ok(())
}

fn record_produced(
    history: &History,
    topic: &str,
    key: Option<&str>,
    value: Option<&str>,
    p: crate::admin::Produced,
) {
    history.record(EventKind::Produced {
        topic: history.name(topic),
        partition: p.partition,
        offset: p.offset,
        key: key.map(str::to_string),
        value: value.map(str::to_string),
        timestamp_ms: p.timestamp_ms,
    });
}
