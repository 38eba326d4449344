//! Your real function, not a mock (STEPS.md): the user's command run as Lambda execution
//! environments through the Runtime API, or someone else's endpoint behind a recording proxy.

use super::*;

/// An optional numeric capture: `None` when its group did not take part in the match.
fn optional_num<T: std::str::FromStr>(a: &Args<'_>, i: usize) -> anyhow::Result<Option<T>> {
    if a.text(i).is_empty() {
        return Ok(None);
    }
    a.num(i).map(Some)
}

step!(function_running, |s, a| {
    Ok(s.define_real_function(&a.text(1), &a.text(2), None, None)
        .await?)
});
step!(function_running_reserved, |s, a| {
    let reserved = a.num(3)?;
    let timeout = optional_num(&a, 4)?;
    Ok(
        s.define_real_function(&a.text(1), &a.text(2), Some(reserved), timeout)
            .await?,
    )
});
step!(function_running_timeout, |s, a| {
    let timeout = a.num(3)?;
    let reserved = optional_num(&a, 4)?;
    Ok(
        s.define_real_function(&a.text(1), &a.text(2), reserved, Some(timeout))
            .await?,
    )
});
step!(function_served_at, |s, a| {
    Ok(s.define_served_function(&a.text(1), &a.text(2)).await?)
});
step!(function_crashes, |s, a| {
    Ok(s.crash_function(&a.text(1)).await?)
});
step!(function_had, |s, a| {
    let at_least = !a.text(2).is_empty();
    let what = harness::scenario::FunctionEvent::from_words(&a.text(4)).ok_or_else(|| {
        anyhow::anyhow!(
            "{:?}: not a cold start, timeout, crash or throttle",
            a.text(4)
        )
    })?;
    Ok(s.assert_function_events(&a.text(1), what, a.num(3)?, at_least)?)
});

/// The phrases of this module, added to [`definitions`].
pub fn definitions() -> Vec<StepDef> {
    vec![
        StepDef {
            regex: concat!("^a Lambda function ", q!(), " running ", q!(), "$"),
            example: r#"a Lambda function "process" running "python3 handler.py""#,
            needs: Needs::SharedBroker,
            start: StartRole::None,
            run: function_running,
        },
        StepDef {
            regex: concat!(
                "^a Lambda function ",
                q!(),
                " running ",
                q!(),
                r" with reserved concurrency (\d+)(?: and a timeout of (\d+) seconds?)?$"
            ),
            example: r#"a Lambda function "process" running "python3 handler.py" with reserved concurrency 2"#,
            needs: Needs::SharedBroker,
            start: StartRole::None,
            run: function_running_reserved,
        },
        StepDef {
            regex: concat!(
                "^a Lambda function ",
                q!(),
                " running ",
                q!(),
                r" with a timeout of (\d+) seconds?(?: and reserved concurrency (\d+))?$"
            ),
            example: r#"a Lambda function "process" running "./bootstrap" with a timeout of 3 seconds"#,
            needs: Needs::SharedBroker,
            start: StartRole::None,
            run: function_running_timeout,
        },
        StepDef {
            regex: concat!("^a Lambda function ", q!(), " served at ", q!(), "$"),
            example: r#"a Lambda function "process" served at "http://127.0.0.1:3001""#,
            needs: Needs::SharedBroker,
            start: StartRole::None,
            run: function_served_at,
        },
        StepDef {
            regex: concat!("^the function ", q!(), " crashes$"),
            example: r#"the function "process" crashes"#,
            needs: Needs::SharedBroker,
            start: StartRole::None,
            run: function_crashes,
        },
        StepDef {
            regex: concat!(
                "^the function ",
                q!(),
                r" had (at least )?(\d+) (cold starts?|timeouts?|crash(?:es)?|throttles?)$"
            ),
            example: r#"the function "process" had at least 1 throttle"#,
            needs: Needs::SharedBroker,
            start: StartRole::None,
            run: function_had,
        },
    ]
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    fn matching(text: &str) -> Vec<&'static str> {
        super::definitions()
            .into_iter()
            .filter(|d| Regex::new(d.regex).unwrap().is_match(text))
            .map(|d| d.example)
            .collect()
    }

    #[test]
    fn both_options_in_either_order_pick_one_phrase() {
        let both = r#"a Lambda function "f" running "./bootstrap" with reserved concurrency 1 and a timeout of 1 second"#;
        assert_eq!(matching(both).len(), 1);
        let other_order = r#"a Lambda function "f" running './b' with a timeout of 5 seconds and reserved concurrency 3"#;
        assert_eq!(matching(other_order).len(), 1);
        assert!(matching(r#"a Lambda function "f" running "x" with 2 GB"#).is_empty());
    }
}
