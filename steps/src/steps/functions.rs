//! The mock Lambda function: how it answers each invocation, and how that changes mid-scenario.
//! A new mock behaviour is a `harness::lambda::Mode` and a phrase here.

use super::Concept;
use harness::lambda::Mode;

step! {
    /// Every invocation succeeds.
    SUCCEEDS: r#"a Lambda function "process" that succeeds"#,
    ["a Lambda function ", q!(), " that succeeds"],
    |s, a| {
        s.define_function(&a.text(1), Mode::Succeed, 0).await;
        Ok(())
    }
}

step! {
    /// Every invocation is a function error (`X-Amz-Function-Error: Unhandled`).
    FAILS: r#"a Lambda function "process" that fails"#,
    ["a Lambda function ", q!(), " that fails"],
    |s, a| {
        s.define_function(&a.text(1), Mode::Fail, 0).await;
        Ok(())
    }
}

step! {
    /// The first N invocations fail, the rest succeed.
    FAILS_TIMES: r#"a Lambda function "process" that fails 2 times then succeeds"#,
    ["a Lambda function ", q!(), r" that fails (\d+) times? then succeeds"],
    |s, a| {
        let remaining = a.num(2)?;
        s.define_function(&a.text(1), Mode::FailTimes { remaining }, 0).await;
        Ok(())
    }
}

step! {
    /// A batch holding such a record fails as a whole.
    FAILS_MATCHING: r#"a Lambda function "process" that fails for records whose value contains "poison""#,
    ["a Lambda function ", q!(), " that fails for records whose value contains ", q!()],
    |s, a| {
        let mode = Mode::FailWhenValueContains(a.text(2));
        s.define_function(&a.text(1), mode, 0).await;
        Ok(())
    }
}

step! {
    /// Answers `batchItemFailures` naming such records.
    REPORTS_ITEM_FAILURES: r#"a Lambda function "process" that reports item failures for records whose value contains "poison""#,
    [
        "a Lambda function ", q!(),
        " that reports item failures for records whose value contains ", q!()
    ],
    |s, a| {
        let mode = Mode::ReportItemFailuresWhenValueContains(a.text(2));
        s.define_function(&a.text(1), mode, 0).await;
        Ok(())
    }
}

step! {
    /// The first N invocations are throttled (429), the rest succeed.
    THROTTLED: r#"a Lambda function "process" that is throttled 3 times then succeeds"#,
    ["a Lambda function ", q!(), r" that is throttled (\d+) times? then succeeds"],
    |s, a| {
        let remaining = a.num(2)?;
        s.define_function(&a.text(1), Mode::ThrottleTimes { remaining }, 0).await;
        Ok(())
    }
}

step! {
    /// Every invocation succeeds after this delay.
    SLOW: r#"a Lambda function "process" that takes 200 ms per invocation"#,
    ["a Lambda function ", q!(), r" that takes (\d+) ms per invocation"],
    |s, a| {
        s.define_function(&a.text(1), Mode::Succeed, a.num(2)?).await;
        Ok(())
    }
}

step! {
    /// Answers 200 with an error body and no error header, as local runtimes do: a function
    /// error all the same.
    FAILS_LIKE_LOCAL_RUNTIME: r#"a Lambda function "process" that fails like a local runtime"#,
    ["a Lambda function ", q!(), " that fails like a local runtime"],
    |s, a| {
        s.define_function(&a.text(1), Mode::FailLikeLocalRuntime, 0).await;
        Ok(())
    }
}

step! {
    /// A Lambda service error N times: the batch never reached the function.
    SERVICE_ERRORS: r#"a Lambda function "process" whose endpoint answers 503 2 times then succeeds"#,
    ["a Lambda function ", q!(), r" whose endpoint answers (5\d\d) (\d+) times? then succeeds"],
    |s, a| {
        let mode = Mode::ServiceErrorTimes {
            status: a.num(2)?,
            remaining: a.num(3)?,
        };
        s.define_function(&a.text(1), mode, 0).await;
        Ok(())
    }
}

step! {
    /// From now on every invocation succeeds.
    STARTS_SUCCEEDING: r#"the function "process" starts succeeding"#,
    ["the function ", q!(), " starts succeeding"],
    |s, a| Ok(s.set_function_mode(&a.text(1), Mode::Succeed).await?)
}

step! {
    /// From now on every invocation fails.
    STARTS_FAILING: r#"the function "process" starts failing"#,
    ["the function ", q!(), " starts failing"],
    |s, a| Ok(s.set_function_mode(&a.text(1), Mode::Fail).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Mock functions",
    steps: &[
        SUCCEEDS,
        FAILS,
        FAILS_TIMES,
        FAILS_MATCHING,
        REPORTS_ITEM_FAILURES,
        THROTTLED,
        SLOW,
        FAILS_LIKE_LOCAL_RUNTIME,
        SERVICE_ERRORS,
        STARTS_SUCCEEDING,
        STARTS_FAILING,
    ],
};
