//! Your real function, not a mock: the user's command run as Lambda execution environments
//! through the Runtime API, or someone else's endpoint behind a recording proxy.

use super::Concept;
use harness::scenario::FunctionEvent;

step! {
    /// Runs the command as Lambda execution environments (Runtime API), in the feature's folder.
    RUNNING: r#"a Lambda function "process" running "python3 handler.py""#,
    ["a Lambda function ", q!(), " running ", q!()],
    |s, a| Ok(s.define_real_function(&a.text(1), &a.text(2), None, None).await?)
}

step! {
    /// Past this many concurrent invocations (default 10) an invocation is throttled (429).
    RUNNING_RESERVED: r#"a Lambda function "process" running "python3 handler.py" with reserved concurrency 2"#,
    [
        "a Lambda function ", q!(), " running ", q!(),
        r" with reserved concurrency (\d+)(?: and a timeout of (\d+) seconds?)?"
    ],
    |s, a| {
        let reserved = a.num(3)?;
        let timeout = a.optional_num(4)?;
        Ok(s.define_real_function(&a.text(1), &a.text(2), Some(reserved), timeout).await?)
    }
}

step! {
    /// An invocation past the timeout is a function error; its environment is replaced.
    RUNNING_TIMEOUT: r#"a Lambda function "process" running "./bootstrap" with a timeout of 3 seconds"#,
    [
        "a Lambda function ", q!(), " running ", q!(),
        r" with a timeout of (\d+) seconds?(?: and reserved concurrency (\d+))?"
    ],
    |s, a| {
        let timeout = a.num(3)?;
        let reserved = a.optional_num(4)?;
        Ok(s.define_real_function(&a.text(1), &a.text(2), reserved, Some(timeout)).await?)
    }
}

step! {
    /// Someone else's endpoint, invoked through a recording proxy.
    SERVED_AT: r#"a Lambda function "process" served at "http://127.0.0.1:3001""#,
    ["a Lambda function ", q!(), " served at ", q!()],
    |s, a| Ok(s.define_served_function(&a.text(1), &a.text(2)).await?)
}

step! {
    /// Kills every execution environment of the function at once.
    CRASHES: r#"the function "process" crashes"#,
    ["the function ", q!(), " crashes"],
    |s, a| Ok(s.crash_function(&a.text(1)).await?)
}

step! {
    /// Counts the function's cold starts, timeouts, crashes or throttles.
    HAD: r#"the function "process" had at least 1 throttle"#,
    [
        "the function ", q!(),
        r" had (at least )?(\d+) (cold starts?|timeouts?|crash(?:es)?|throttles?)"
    ],
    |s, a| {
        let at_least = !a.text(2).is_empty();
        let what = FunctionEvent::from_words(&a.text(4)).ok_or_else(|| {
            anyhow::anyhow!("{:?}: not a cold start, timeout, crash or throttle", a.text(4))
        })?;
        Ok(s.assert_function_events(&a.text(1), what, a.num(3)?, at_least)?)
    }
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Your real function",
    steps: &[
        RUNNING,
        RUNNING_RESERVED,
        RUNNING_TIMEOUT,
        SERVED_AT,
        CRASHES,
        HAD,
    ],
};
