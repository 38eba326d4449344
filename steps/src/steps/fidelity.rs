//! Phrases of STEPS.md's "Added in the second round" that make the mock and the workload behave
//! as production does: a clean stop mid-invocation, local runtimes' and the service's own
//! errors, empty, null and old records, and what the function and the destination then saw.

use super::{Args, StepDef};
use crate::world::EsmWorld;
use cucumber::step::Context;
use futures::future::LocalBoxFuture;
use harness::lambda::Mode;
use harness::scenario::{Needs, StartRole};
use regex::Regex;

// ----- lifecycle -----------------------------------------------------------------------------

step!(disable_during_invocation, |s, a| {
    Ok(s.disable_mapping_during_invocation(&a.text(1)).await?)
});

// ----- mock behaviours -----------------------------------------------------------------------

step!(function_fails_like_local_runtime, |s, a| {
    s.define_function(&a.text(1), Mode::FailLikeLocalRuntime, 0)
        .await;
    Ok(())
});
step!(function_service_errors, |s, a| {
    let mode = Mode::ServiceErrorTimes {
        status: a.num(2)?,
        remaining: a.num(3)?,
    };
    s.define_function(&a.text(1), mode, 0).await;
    Ok(())
});

// ----- records -------------------------------------------------------------------------------

step!(produce_empty_value, |s, a| {
    Ok(s.produce_one(&a.text(1), Some(""), None).await?)
});
step!(produce_null_value, |s, a| {
    Ok(s.produce_one(&a.text(1), None, None).await?)
});
step!(produce_stamped, |s, a| {
    let value = a.text(1);
    Ok(s.produce_one(&a.text(3), Some(&value), Some(a.secs(2)?))
        .await?)
});

// ----- assertions ----------------------------------------------------------------------------

step!(invocation_spanning, |s, a| {
    Ok(s.assert_invocation_spanning(&a.text(1), a.num(2)?)?)
});
step!(received_empty_value, |s, a| {
    Ok(s.assert_received_empty_value(&a.text(1), &a.text(2))?)
});
step!(received_null_value, |s, a| {
    Ok(s.assert_received_null_value(&a.text(1), &a.text(2))?)
});
step!(failure_record_field_matches, |s, a| {
    let pattern = a.text(3);
    let regex = Regex::new(&pattern)
        .map_err(|e| anyhow::anyhow!("{pattern:?} is not a regular expression: {e}"))?;
    let expected = format!("matches {pattern:?}");
    Ok(
        s.assert_failure_record_field(&a.text(1), &a.text(2), &expected, &|v| regex.is_match(v))
            .await?,
    )
});
step!(failure_record_field_is, |s, a| {
    let wanted = a.text(3);
    let expected = format!("is {wanted:?}");
    Ok(
        s.assert_failure_record_field(&a.text(1), &a.text(2), &expected, &|v| v == wanted)
            .await?,
    )
});
step!(fails_to_start_naming_both, |s, a| {
    Ok(
        s.assert_fails_to_start(&a.text(1), &[&a.text(2), &a.text(3)])
            .await?,
    )
});

pub(super) fn definitions() -> Vec<StepDef> {
    vec![
        def!(
            disable_during_invocation,
            r#"the mapping "esm" is disabled during an invocation"#,
            "the mapping ",
            q!(),
            " is disabled during an invocation"
        ),
        def!(
            function_fails_like_local_runtime,
            r#"a Lambda function "process" that fails like a local runtime"#,
            "a Lambda function ",
            q!(),
            " that fails like a local runtime"
        ),
        def!(
            function_service_errors,
            r#"a Lambda function "process" whose endpoint answers 503 2 times then succeeds"#,
            "a Lambda function ",
            q!(),
            r" whose endpoint answers (5\d\d) (\d+) times? then succeeds"
        ),
        def!(
            produce_empty_value,
            r#"a record with an empty value is produced to "orders""#,
            "a record with an empty value is produced to ",
            q!()
        ),
        def!(
            produce_null_value,
            r#"a record with a null value is produced to "orders""#,
            "a record with a null value is produced to ",
            q!()
        ),
        def!(
            produce_stamped,
            r#"a record with value "old" stamped 120 seconds ago is produced to "orders""#,
            "a record with value ",
            q!(),
            r" stamped (\d+) seconds? ago is produced to ",
            q!()
        ),
        def!(
            invocation_spanning,
            r#"an invocation of "process" held records of 2 partitions"#,
            "an invocation of ",
            q!(),
            r" held records of (\d+) partitions?"
        ),
        def!(
            received_empty_value,
            r#""process" received a record of "orders" with an empty value"#,
            q!(),
            " received a record of ",
            q!(),
            " with an empty value"
        ),
        def!(
            received_null_value,
            r#""process" received a record of "orders" without a value"#,
            q!(),
            " received a record of ",
            q!(),
            " without a value"
        ),
        def!(
            failure_record_field_matches,
            r#"the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.recordInfo.timestamp" matches "^\d{4}-\d{2}-\d{2}T""#,
            "the topic ",
            q!(),
            " holds a failure record whose ",
            q!(),
            " matches ",
            q!()
        ),
        def!(
            failure_record_field_is,
            r#"the topic "orders-dlq" holds a failure record whose "requestContext.condition" is "RecordAgeExceeded""#,
            "the topic ",
            q!(),
            " holds a failure record whose ",
            q!(),
            " is ",
            q!()
        ),
        def!(
            start RefusesStart,
            fails_to_start_naming_both,
            r#"the mapping "esm" fails to start with errors mentioning "BatchSize" and "MaximumRetryAttempts""#,
            "the mapping ",
            q!(),
            " fails to start with errors mentioning ",
            q!(),
            " and ",
            q!()
        ),
    ]
}
