//! The Gherkin vocabulary (STEPS.md), a public API. Each phrase works after Given, When, Then,
//! And or But, so every definition is registered for all three step types. Step functions are
//! thin glue: they read their arguments and call one method of the harness's `Scenario`.

use crate::world::EsmWorld;
use cucumber::step::{Collection, Context};
use futures::future::LocalBoxFuture;
use harness::check;
use harness::lambda::Mode;
use harness::scenario::{Needs, StartRole};
use std::time::Duration;

/// `{string}`: "double" or 'single' quotes, so a JSON value can be written as '{"k": 1}'.
macro_rules! q {
    () => {
        r#"("[^"]*"|'[^']*')"#
    };
}

/// One phrase of the vocabulary: its regex, an example exactly as STEPS.md writes it, what it
/// needs of the broker, its part in the start look-ahead, the function behind it.
#[derive(Clone, Copy)]
pub struct StepDef {
    pub regex: &'static str,
    pub example: &'static str,
    pub needs: Needs,
    /// A start role names the mapping in the first capture.
    pub start: StartRole,
    pub run: cucumber::step::Step<EsmWorld>,
}

/// A step's captured arguments.
struct Args<'a> {
    ctx: &'a Context,
}

impl<'a> Args<'a> {
    /// Capture `i` (1-based), quotes stripped.
    fn text(&self, i: usize) -> String {
        let raw = self
            .ctx
            .matches
            .get(i)
            .map(|(_, s)| s.as_str())
            .unwrap_or("");
        unquote(raw).to_string()
    }

    fn num<T: std::str::FromStr>(&self, i: usize) -> anyhow::Result<T> {
        let text = self.text(i);
        text.parse()
            .map_err(|_| anyhow::anyhow!("{text:?} is not a number this step accepts"))
    }

    fn secs(&self, i: usize) -> anyhow::Result<Duration> {
        Ok(Duration::from_secs(self.num(i)?))
    }

    /// The step's data table as (key, value) rows.
    fn rows(&self) -> anyhow::Result<Vec<(String, String)>> {
        let table = self
            .ctx
            .step
            .table
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("this step needs a table of field | value rows"))?;
        table
            .rows
            .iter()
            .map(|row| match row.as_slice() {
                [key, value] => Ok((key.clone(), value.clone())),
                other => Err(anyhow::anyhow!(
                    "each table row needs 2 cells (field | value); got {}: {other:?}",
                    other.len()
                )),
            })
            .collect()
    }

    /// The step's doc string without its opening line, which holds only the content type
    /// (`"""json`): the gherkin parser keeps that line in the text.
    fn docstring(&self) -> anyhow::Result<String> {
        let text = self.ctx.step.docstring.as_deref().ok_or_else(|| {
            anyhow::anyhow!("this step needs a \"\"\"json doc string with the mapping")
        })?;
        Ok(doc_body(text).to_string())
    }
}

/// A `{string}` capture without its quotes.
pub fn unquote(raw: &str) -> &str {
    let quoted = raw.len() >= 2
        && ((raw.starts_with('"') && raw.ends_with('"'))
            || (raw.starts_with('\'') && raw.ends_with('\'')));
    if quoted { &raw[1..raw.len() - 1] } else { raw }
}

/// A [`StepDef`] from its function, its example and the pieces of its regex.
macro_rules! def {
    ($run:ident, $example:expr, $($re:expr),+) => {
        StepDef {
            regex: concat!("^", $($re),+, "$"),
            example: $example,
            needs: Needs::SharedBroker,
            start: StartRole::None,
            run: $run,
        }
    };
    (needs $needs:ident, $run:ident, $example:expr, $($re:expr),+) => {
        StepDef { needs: Needs::$needs, ..def!($run, $example, $($re),+) }
    };
    (start $role:ident, $run:ident, $example:expr, $($re:expr),+) => {
        StepDef { start: StartRole::$role, ..def!($run, $example, $($re),+) }
    };
}

macro_rules! step {
    ($name:ident, |$s:ident, $a:ident| $body:block) => {
        #[allow(unused_variables)]
        fn $name(world: &mut EsmWorld, ctx: Context) -> LocalBoxFuture<'_, ()> {
            Box::pin(async move {
                let $a = Args { ctx: &ctx };
                let $s = world.scenario_mut();
                let result: anyhow::Result<()> = async { $body }.await;
                if let Err(e) = result {
                    panic!("{e:#}");
                }
            })
        }
    };
}

// The second round's phrases (STEPS.md "Added in the second round"), one module per concept.
mod fidelity;
mod real_function;

// ----- setup -------------------------------------------------------------------------------

step!(broker, |s, a| { Ok(s.use_broker(1, None).await?) });
step!(broker_with_retention, |s, a| {
    Ok(s.use_broker(1, Some(a.num(1)?)).await?)
});
step!(cluster, |s, a| { Ok(s.use_broker(a.num(1)?, None).await?) });
step!(topic, |s, a| {
    Ok(s.create_topic(&a.text(1), a.num(2)?, None).await?)
});
step!(topic_with_retention, |s, a| {
    let retention_ms = a.num::<u64>(3)? * 1_000;
    Ok(s.create_topic(&a.text(1), a.num(2)?, Some(retention_ms))
        .await?)
});
step!(function_succeeds, |s, a| {
    s.define_function(&a.text(1), Mode::Succeed, 0).await;
    Ok(())
});
step!(function_fails, |s, a| {
    s.define_function(&a.text(1), Mode::Fail, 0).await;
    Ok(())
});
step!(function_fails_times, |s, a| {
    let remaining = a.num(2)?;
    s.define_function(&a.text(1), Mode::FailTimes { remaining }, 0)
        .await;
    Ok(())
});
step!(function_fails_matching, |s, a| {
    s.define_function(&a.text(1), Mode::FailWhenValueContains(a.text(2)), 0)
        .await;
    Ok(())
});
step!(function_reports_item_failures, |s, a| {
    s.define_function(
        &a.text(1),
        Mode::ReportItemFailuresWhenValueContains(a.text(2)),
        0,
    )
    .await;
    Ok(())
});
step!(function_throttled, |s, a| {
    let remaining = a.num(2)?;
    s.define_function(&a.text(1), Mode::ThrottleTimes { remaining }, 0)
        .await;
    Ok(())
});
step!(function_slow, |s, a| {
    s.define_function(&a.text(1), Mode::Succeed, a.num(2)?)
        .await;
    Ok(())
});
step!(mapping, |s, a| {
    Ok(s.define_mapping_from_table(&a.text(1), &a.text(2), &a.text(3), &[])?)
});
step!(mapping_with, |s, a| {
    let rows = a.rows()?;
    Ok(s.define_mapping_from_table(&a.text(1), &a.text(2), &a.text(3), &rows)?)
});
step!(mapping_json, |s, a| {
    let text = a.docstring()?;
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("the mapping's JSON does not parse: {e}"))?;
    Ok(s.define_mapping(&a.text(1), config)?)
});

// ----- workload ------------------------------------------------------------------------------

step!(produce_n, |s, a| {
    Ok(s.produce(&a.text(2), a.num(1)?, None, None, &[]).await?)
});
step!(produce_n_with_key, |s, a| {
    let key = a.text(2);
    Ok(s.produce(&a.text(3), a.num(1)?, Some(&key), None, &[])
        .await?)
});
step!(produce_value, |s, a| {
    let value = a.text(1);
    Ok(s.produce(&a.text(2), 1, None, Some(&value), &[]).await?)
});
step!(produce_header, |s, a| {
    let header = vec![(a.text(1), a.text(2).into_bytes())];
    Ok(s.produce(&a.text(3), 1, None, None, &header).await?)
});
step!(produce_sized, |s, a| {
    let bytes = size_bytes(a.num(2)?, &a.text(3))?;
    Ok(s.produce_sized(&a.text(4), a.num(1)?, bytes).await?)
});
step!(produce_one_sized, |s, a| {
    let bytes = size_bytes(a.num(1)?, &a.text(2))?;
    Ok(s.produce_sized(&a.text(3), 1, bytes).await?)
});
step!(failure_record_condition, |s, a| {
    Ok(s.assert_failure_record_condition(&a.text(1), &a.text(2))
        .await?)
});
step!(produce_rate, |s, a| {
    Ok(s.produce_at_rate(&a.text(1), a.num(2)?, a.num(3)?).await?)
});

// ----- lifecycle and faults ------------------------------------------------------------------

step!(start, |s, a| { Ok(s.start_mapping(&a.text(1), 1).await?) });
step!(start_with_pollers, |s, a| {
    Ok(s.start_mapping(&a.text(1), a.num(2)?).await?)
});
step!(scale, |s, a| {
    Ok(s.scale_mapping(&a.text(1), a.num(2)?).await?)
});
step!(disable, |s, a| { Ok(s.disable_mapping(&a.text(1)).await?) });
step!(enable, |s, a| { Ok(s.enable_mapping(&a.text(1)).await?) });
step!(kill, |s, a| { Ok(s.kill_mapping(&a.text(1)).await?) });
step!(restart, |s, a| { Ok(s.restart_mapping(&a.text(1)).await?) });
step!(kill_poller, |s, a| { Ok(s.kill_poller(&a.text(1)).await?) });
step!(kill_during_invocation, |s, a| {
    Ok(s.kill_mapping_during_invocation(&a.text(1)).await?)
});
step!(freeze, |s, a| {
    Ok(s.freeze_mapping(&a.text(1), a.num(2)?).await?)
});
step!(grow, |s, a| {
    Ok(s.grow_topic(&a.text(1), a.num(2)?).await?)
});
step!(broker_restart, |s, a| { Ok(s.restart_broker().await?) });
step!(broker_kill, |s, a| {
    Ok(s.kill_broker_node(a.num(1)?).await?)
});
step!(broker_start, |s, a| {
    Ok(s.start_broker_node(a.num(1)?).await?)
});
step!(network_cut, |s, a| {
    Ok(s.cut_network(&a.text(1), a.num(2)?).await?)
});
step!(network_slow, |s, a| {
    Ok(s.slow_network(&a.text(1), a.num(2)?).await?)
});
step!(offsets_expire, |s, a| {
    Ok(s.expire_offsets(&a.text(1)).await?)
});
step!(offsets_deleted, |s, a| {
    Ok(s.delete_offsets(&a.text(1)).await?)
});
step!(chaos, |s, a| { Ok(s.chaos(&a.text(1), a.num(2)?).await?) });
step!(starts_succeeding, |s, a| {
    Ok(s.set_function_mode(&a.text(1), Mode::Succeed).await?)
});
step!(starts_failing, |s, a| {
    Ok(s.set_function_mode(&a.text(1), Mode::Fail).await?)
});
step!(time_passes, |s, a| {
    s.pass_time(a.num(1)?).await;
    Ok(())
});

// ----- assertions ----------------------------------------------------------------------------

step!(received_every, |s, a| {
    Ok(
        s.await_every_record(&a.text(2), &a.text(3), a.secs(1)?, None)
            .await?,
    )
});
step!(received_every_once, |s, a| {
    Ok(
        s.await_every_record(&a.text(2), &a.text(3), a.secs(1)?, Some(1))
            .await?,
    )
});
step!(received_every_at_most, |s, a| {
    Ok(
        s.assert_every_record_at_most(&a.text(1), &a.text(2), a.num(3)?)
            .await?,
    )
});
step!(received_every_times, |s, a| {
    let times = a.num(4)?;
    Ok(
        s.await_every_record(&a.text(2), &a.text(3), a.secs(1)?, Some(times))
            .await?,
    )
});
step!(committed_end, |s, a| {
    Ok(s.await_committed_end(&a.text(2), &a.text(3), a.secs(1)?)
        .await?)
});
step!(committed_offset, |s, a| {
    Ok(
        s.assert_committed(&a.text(1), &a.text(4), a.num(3)?, a.num(2)?, None)
            .await?,
    )
});
step!(committed_offset_within, |s, a| {
    let timeout = Some(a.secs(1)?);
    Ok(
        s.assert_committed(&a.text(2), &a.text(5), a.num(4)?, a.num(3)?, timeout)
            .await?,
    )
});
step!(committed_nothing, |s, a| {
    Ok(
        s.assert_committed_nothing(&a.text(1), &a.text(3), a.num(2)?)
            .await?,
    )
});
step!(poller_count, |s, a| {
    Ok(s.assert_poller_count(&a.text(1), a.num(2)?)?)
});
step!(no_commit_ahead, |s, a| {
    Ok(
        s.run_checks(None, |e, subject| vec![check::commit_safety(e, subject)])
            .await?,
    )
});
step!(offset_order, |s, a| {
    Ok(s.run_checks(Some(&a.text(1)), |e, subject| {
        vec![check::order(e, subject)]
    })
    .await?)
});
step!(single_in_flight, |s, a| {
    Ok(s.run_checks(Some(&a.text(1)), |e, subject| {
        vec![check::single_in_flight(e, subject)]
    })
    .await?)
});
step!(topic_holds, |s, a| {
    Ok(s.await_topic_holds(&a.text(2), a.num(3)?, a.secs(1)?)
        .await?)
});
step!(failure_record, |s, a| {
    Ok(s.assert_failure_record(&a.text(1), &a.text(2), &a.text(3))
        .await?)
});
step!(invoked_with_value, |s, a| {
    Ok(s.assert_invoked_with_value(&a.text(1), &a.text(2), a.num(3)?)?)
});
step!(nothing_before_start, |s, a| {
    Ok(s.assert_nothing_from_before_start(&a.text(1), &a.text(2), &a.text(3))?)
});
step!(received_value, |s, a| {
    Ok(s.await_value(&a.text(2), &a.text(3), a.secs(1)?).await?)
});
step!(never_received, |s, a| {
    Ok(s.assert_never_received(&a.text(1), &a.text(2))?)
});
step!(header_bytes, |s, a| {
    let bytes = parse_signed_bytes(&a.text(3))?;
    Ok(s.assert_header_bytes(&a.text(1), &a.text(2), &bytes)?)
});
step!(fails_to_start, |s, a| {
    Ok(s.assert_fails_to_start(&a.text(1), &[&a.text(2)]).await?)
});
step!(offset_lag, |s, a| {
    Ok(s.await_offset_lag(&a.text(1), a.num(2)?, a.secs(3)?)
        .await?)
});
step!(every_guarantee, |s, a| {
    Ok(s.run_checks(None, check::all).await?)
});

/// "7", "MB" → bytes (KB and MB are binary: 1024 and 1024²).
pub fn size_bytes(count: usize, unit: &str) -> anyhow::Result<usize> {
    let scale = match unit {
        "bytes" => 1,
        "KB" => 1024,
        "MB" => 1024 * 1024,
        other => anyhow::bail!("unit {other:?}: allowed bytes, KB, MB"),
    };
    count
        .checked_mul(scale)
        .filter(|b| *b <= 15 * 1024 * 1024)
        .ok_or_else(|| anyhow::anyhow!("{count} {unit}: at most 15 MB a record"))
}

/// A doc string's text after its opening line (the content type, possibly empty).
pub fn doc_body(text: &str) -> &str {
    match text.split_once('\n') {
        Some((first, rest)) if !first.trim_start().starts_with(['{', '[']) => rest,
        _ => text,
    }
}

/// "-61,-87" → [-61, -87].
pub fn parse_signed_bytes(text: &str) -> anyhow::Result<Vec<i8>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i8>()
                .map_err(|_| anyhow::anyhow!("{s:?} is not a signed byte (-128 to 127)"))
        })
        .collect()
}

/// Every phrase of the vocabulary.
pub fn definitions() -> Vec<StepDef> {
    let mut defs = first_round_definitions();
    defs.extend(fidelity::definitions());
    defs
}

/// The phrases of STEPS.md before its "Added in the second round" section.
fn first_round_definitions() -> Vec<StepDef> {
    vec![
        def!(broker, "a Kafka broker", "a Kafka broker"),
        def!(
            broker_with_retention,
            "a Kafka broker with offsets retention of 1 minute",
            r"a Kafka broker with offsets retention of (1) minutes?"
        ),
        def!(
            needs OwnBroker,
            broker_with_retention,
            "a Kafka broker with offsets retention of 5 minutes",
            r"a Kafka broker with offsets retention of ([02-9]|\d{2,}) minutes?"
        ),
        def!(
            needs OwnCluster,
            cluster,
            "a Kafka cluster of 3 brokers",
            r"a Kafka cluster of (\d+) brokers?"
        ),
        def!(
            topic,
            r#"a topic "orders" with 3 partitions"#,
            "a topic ",
            q!(),
            r" with (\d+) partitions?"
        ),
        def!(
            topic_with_retention,
            r#"a topic "orders" with 1 partition whose records are deleted after 30 seconds"#,
            "a topic ",
            q!(),
            r" with (\d+) partitions? whose records are deleted after (\d+) seconds?"
        ),
        def!(
            function_succeeds,
            r#"a Lambda function "process" that succeeds"#,
            "a Lambda function ",
            q!(),
            " that succeeds"
        ),
        def!(
            function_fails,
            r#"a Lambda function "process" that fails"#,
            "a Lambda function ",
            q!(),
            " that fails"
        ),
        def!(
            function_fails_times,
            r#"a Lambda function "process" that fails 2 times then succeeds"#,
            "a Lambda function ",
            q!(),
            r" that fails (\d+) times? then succeeds"
        ),
        def!(
            function_fails_matching,
            r#"a Lambda function "process" that fails for records whose value contains "poison""#,
            "a Lambda function ",
            q!(),
            " that fails for records whose value contains ",
            q!()
        ),
        def!(
            function_reports_item_failures,
            r#"a Lambda function "process" that reports item failures for records whose value contains "poison""#,
            "a Lambda function ",
            q!(),
            " that reports item failures for records whose value contains ",
            q!()
        ),
        def!(
            function_throttled,
            r#"a Lambda function "process" that is throttled 3 times then succeeds"#,
            "a Lambda function ",
            q!(),
            r" that is throttled (\d+) times? then succeeds"
        ),
        def!(
            function_slow,
            r#"a Lambda function "process" that takes 200 ms per invocation"#,
            "a Lambda function ",
            q!(),
            r" that takes (\d+) ms per invocation"
        ),
        def!(
            mapping,
            r#"an event source mapping "esm" from "orders" to "process""#,
            "an event source mapping ",
            q!(),
            " from ",
            q!(),
            " to ",
            q!()
        ),
        def!(
            mapping_with,
            r#"an event source mapping "esm" from "orders" to "process" with:"#,
            "an event source mapping ",
            q!(),
            " from ",
            q!(),
            " to ",
            q!(),
            " with:"
        ),
        def!(
            mapping_json,
            r#"an event source mapping "esm" configured as:"#,
            "an event source mapping ",
            q!(),
            " configured as:"
        ),
        def!(
            produce_n,
            r#"100 records are produced to "orders""#,
            r"(\d+) records? (?:is|are) produced to ",
            q!()
        ),
        def!(
            produce_n_with_key,
            r#"20 records with key "customer-7" are produced to "orders""#,
            r"(\d+) records? with key ",
            q!(),
            " (?:is|are) produced to ",
            q!()
        ),
        def!(
            produce_value,
            r#"a record with value "poison" is produced to "orders""#,
            "a record with value ",
            q!(),
            " is produced to ",
            q!()
        ),
        def!(
            produce_header,
            r#"a record with header "trace" set to "é" is produced to "orders""#,
            "a record with header ",
            q!(),
            " set to ",
            q!(),
            " is produced to ",
            q!()
        ),
        def!(
            produce_sized,
            r#"12 records of 1 MB are produced to "orders""#,
            r"(\d+) records? of (\d+) (bytes|KB|MB) (?:is|are) produced to ",
            q!()
        ),
        def!(
            produce_one_sized,
            r#"a record of 7 MB is produced to "orders""#,
            r"a record of (\d+) (bytes|KB|MB) is produced to ",
            q!()
        ),
        def!(
            failure_record_condition,
            r#"the topic "orders-dlq" holds a failure record with condition "MaximumPayloadSizeExceeded""#,
            "the topic ",
            q!(),
            " holds a failure record with condition ",
            q!()
        ),
        def!(
            produce_rate,
            r#"records are produced to "orders" at 50 per second for 20 seconds"#,
            "records are produced to ",
            q!(),
            r" at (\d+) per second for (\d+) seconds?"
        ),
        def!(
            start Starts,
            start,
            r#"the mapping "esm" is started"#,
            "the mapping ",
            q!(),
            " is started"
        ),
        def!(
            start Starts,
            start_with_pollers,
            r#"the mapping "esm" is started with 2 pollers"#,
            "the mapping ",
            q!(),
            r" is started with (\d+) pollers?"
        ),
        def!(
            scale,
            r#"the mapping "esm" scales to 3 pollers"#,
            "the mapping ",
            q!(),
            r" scales to (\d+) pollers?"
        ),
        def!(
            disable,
            r#"the mapping "esm" is disabled"#,
            "the mapping ",
            q!(),
            " is disabled"
        ),
        def!(
            enable,
            r#"the mapping "esm" is enabled"#,
            "the mapping ",
            q!(),
            " is enabled"
        ),
        def!(
            kill,
            r#"the mapping "esm" is killed"#,
            "the mapping ",
            q!(),
            " is killed"
        ),
        def!(
            restart,
            r#"the mapping "esm" is restarted"#,
            "the mapping ",
            q!(),
            " is restarted"
        ),
        def!(
            kill_poller,
            r#"a poller of "esm" is killed"#,
            "a poller of ",
            q!(),
            " is killed"
        ),
        def!(
            kill_during_invocation,
            r#"the mapping "esm" is killed during an invocation"#,
            "the mapping ",
            q!(),
            " is killed during an invocation"
        ),
        def!(
            freeze,
            r#"the mapping "esm" is frozen for 15 seconds"#,
            "the mapping ",
            q!(),
            r" is frozen for (\d+) seconds?"
        ),
        def!(
            grow,
            r#"the topic "orders" grows to 6 partitions"#,
            "the topic ",
            q!(),
            r" grows to (\d+) partitions?"
        ),
        def!(
            needs OwnBroker,
            broker_restart,
            "the broker is restarted",
            "the broker is restarted"
        ),
        def!(
            needs OwnBroker,
            broker_kill,
            "broker 2 is killed",
            r"broker (\d+) is killed"
        ),
        def!(
            needs OwnBroker,
            broker_start,
            "broker 2 is started",
            r"broker (\d+) is started"
        ),
        def!(
            needs ProxiedNetwork,
            network_cut,
            r#"the network between "esm" and the broker is cut for 10 seconds"#,
            "the network between ",
            q!(),
            r" and the broker is cut for (\d+) seconds?"
        ),
        def!(
            needs ProxiedNetwork,
            network_slow,
            r#"the network between "esm" and the broker is slowed by 300 ms"#,
            "the network between ",
            q!(),
            r" and the broker is slowed by (\d+) ms"
        ),
        def!(
            offsets_expire,
            r#"the committed offsets of group "orders-group" expire"#,
            "the committed offsets of group ",
            q!(),
            " expire"
        ),
        def!(
            offsets_deleted,
            r#"the committed offsets of group "orders-group" are deleted"#,
            "the committed offsets of group ",
            q!(),
            " are deleted"
        ),
        def!(
            needs ProxiedNetwork,
            chaos,
            r#"random faults hit the mapping "esm" for 30 seconds"#,
            "random faults hit the mapping ",
            q!(),
            r" for (\d+) seconds?"
        ),
        def!(
            starts_succeeding,
            r#"the function "process" starts succeeding"#,
            "the function ",
            q!(),
            " starts succeeding"
        ),
        def!(
            starts_failing,
            r#"the function "process" starts failing"#,
            "the function ",
            q!(),
            " starts failing"
        ),
        def!(time_passes, "5 seconds pass", r"(\d+) seconds? pass(?:es)?"),
        def!(
            received_every,
            r#"within 30 seconds "process" has received every record of "orders""#,
            r"within (\d+) seconds? ",
            q!(),
            " has received every record of ",
            q!()
        ),
        def!(
            received_every_once,
            r#"within 30 seconds "process" has received every record of "orders" exactly once"#,
            r"within (\d+) seconds? ",
            q!(),
            " has received every record of ",
            q!(),
            " exactly once"
        ),
        def!(
            received_every_at_most,
            r#""process" received every record of "orders" at most 2 times"#,
            q!(),
            " received every record of ",
            q!(),
            r" at most (\d+) times?"
        ),
        def!(
            received_every_times,
            r#"within 30 seconds "process" has received every record of "orders" 2 times"#,
            r"within (\d+) seconds? ",
            q!(),
            " has received every record of ",
            q!(),
            r" (\d+) times?"
        ),
        def!(
            committed_end,
            r#"within 30 seconds the group "orders-group" has committed the end of "orders""#,
            r"within (\d+) seconds? the group ",
            q!(),
            " has committed the end of ",
            q!()
        ),
        def!(
            committed_offset,
            r#"the group "orders-group" has committed offset 40 on partition 0 of "orders""#,
            "the group ",
            q!(),
            r" has committed offset (\d+) on partition (\d+) of ",
            q!()
        ),
        def!(
            committed_offset_within,
            r#"within 30 seconds the group "orders-group" has committed offset 40 on partition 0 of "orders""#,
            r"within (\d+) seconds? the group ",
            q!(),
            r" has committed offset (\d+) on partition (\d+) of ",
            q!()
        ),
        def!(
            committed_nothing,
            r#"the group "orders-group" has committed nothing on partition 0 of "orders""#,
            "the group ",
            q!(),
            r" has committed nothing on partition (\d+) of ",
            q!()
        ),
        def!(
            poller_count,
            r#"the mapping "esm" runs 2 pollers"#,
            "the mapping ",
            q!(),
            r" runs (\d+) pollers?"
        ),
        def!(
            no_commit_ahead,
            "no offset was committed before its records succeeded",
            "no offset was committed before its records succeeded"
        ),
        def!(
            offset_order,
            r#"each partition of "orders" reached "process" in offset order"#,
            "each partition of ",
            q!(),
            " reached ",
            q!(),
            " in offset order"
        ),
        def!(
            single_in_flight,
            r#"at most one invocation per partition of "orders" was in flight at any time"#,
            "at most one invocation per partition of ",
            q!(),
            " was in flight at any time"
        ),
        def!(
            topic_holds,
            r#"within 30 seconds the topic "orders-dlq" holds 1 record"#,
            r"within (\d+) seconds? the topic ",
            q!(),
            r" holds (\d+) records?"
        ),
        def!(
            failure_record,
            r#"the topic "orders-dlq" holds a failure record for the value "poison" with condition "RetryAttemptsExhausted""#,
            "the topic ",
            q!(),
            " holds a failure record for the value ",
            q!(),
            " with condition ",
            q!()
        ),
        def!(
            invoked_with_value,
            r#""process" was invoked with the value "poison" 3 times"#,
            q!(),
            " was invoked with the value ",
            q!(),
            r" (\d+) times?"
        ),
        def!(
            nothing_before_start,
            r#""process" received no record of "orders" produced before the mapping "esm" started"#,
            q!(),
            " received no record of ",
            q!(),
            " produced before the mapping ",
            q!(),
            " started"
        ),
        def!(
            received_value,
            r#"within 30 seconds "process" has received the value "order-7""#,
            r"within (\d+) seconds? ",
            q!(),
            " has received the value ",
            q!()
        ),
        def!(
            never_received,
            r#""process" never received the value "poison""#,
            q!(),
            " never received the value ",
            q!()
        ),
        def!(
            header_bytes,
            r#""process" received the header "trace" as the bytes "-61,-87""#,
            q!(),
            " received the header ",
            q!(),
            " as the bytes ",
            q!()
        ),
        def!(
            start RefusesStart,
            fails_to_start,
            r#"the mapping "esm" fails to start with an error mentioning "BatchSize""#,
            "the mapping ",
            q!(),
            " fails to start with an error mentioning ",
            q!()
        ),
        def!(
            offset_lag,
            r#"the mapping "esm" reports an offset lag of 0 within 30 seconds"#,
            "the mapping ",
            q!(),
            r" reports an offset lag of (\d+) within (\d+) seconds?"
        ),
        def!(
            every_guarantee,
            "every guarantee holds",
            "every guarantee holds"
        ),
    ]
    .into_iter()
    .chain(real_function::definitions())
    .collect()
}

/// The step collection for Cucumber: every phrase under Given, When and Then.
pub fn collection() -> Collection<EsmWorld> {
    crate::vocabulary::vocabulary()
        .definitions()
        .fold(Collection::new(), |c, (re, def)| {
            c.given(None, re.clone(), def.run)
                .when(None, re.clone(), def.run)
                .then(None, re.clone(), def.run)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn matching(text: &str) -> Vec<&'static str> {
        definitions()
            .iter()
            .filter(|d| Regex::new(d.regex).unwrap().is_match(text))
            .map(|d| d.example)
            .collect()
    }

    #[test]
    fn every_example_matches_exactly_its_own_definition() {
        for def in definitions() {
            assert_eq!(matching(def.example), vec![def.example], "{}", def.example);
        }
    }

    #[test]
    fn singulars_and_single_quotes_work() {
        assert_eq!(matching("1 record is produced to 'orders'").len(), 1);
        assert_eq!(
            matching(r#"the mapping "esm" is started with 1 poller"#).len(),
            1
        );
        assert_eq!(matching("1 second passes").len(), 1);
        assert_eq!(
            matching(r#"a record with value '{"kind": "order"}' is produced to "orders""#).len(),
            1
        );
        for text in [
            "a Lambda function 'process' whose endpoint answers 500 1 time then succeeds",
            "a record with value 'old' stamped 1 second ago is produced to 'orders'",
            "an invocation of 'process' held records of 1 partition",
            "'process' received a record of 'orders' without a value",
            r#"the topic 'orders-dlq' holds a failure record whose 'payload.eventSource' is '"x"'"#,
            "the mapping 'esm' fails to start with errors mentioning 'a' and 'b'",
        ] {
            assert_eq!(matching(text).len(), 1, "{text}");
        }
        assert!(
            matching("a Lambda function 'process' whose endpoint answers 429 1 time then succeeds")
                .is_empty()
        );
    }

    #[test]
    fn doc_strings_lose_their_content_type_line() {
        assert_eq!(doc_body("json\n{\"a\": 1}\n"), "{\"a\": 1}\n");
        assert_eq!(doc_body("\n{}"), "{}");
        assert_eq!(doc_body("{\"a\":\n 1}"), "{\"a\":\n 1}");
    }

    #[test]
    fn signed_bytes_parse_and_refuse_out_of_range() {
        assert_eq!(parse_signed_bytes("-61,-87").unwrap(), vec![-61, -87]);
        assert!(parse_signed_bytes("200").is_err());
    }
}
