//! The Gherkin vocabulary (docs/STEPS.md), a public API: one file per concept under `steps/`,
//! each phrase written beside its body with [`step!`]. Each phrase works after Given, When,
//! Then, And or But, so every definition is registered for all three step types. Bodies are thin
//! glue: they read their arguments and call one method of the harness's `Scenario`.

use crate::world::EsmWorld;
use cucumber::step::{Collection, Context};
use harness::scenario::{Needs, StartRole};
use std::time::Duration;

/// `{string}`: "double" or 'single' quotes, so a JSON value can be written as '{"k": 1}'.
macro_rules! q {
    () => {
        r#"("[^"]*"|'[^']*')"#
    };
}

/// One phrase and its body: `NAME: example, [regex pieces], needs …, start …, |s, a| body`.
/// The doc comment is the phrase's description in the generated reference; `needs` (default
/// `SharedBroker`) and `start` (default `None`) are its isolation declarations.
macro_rules! step {
    (@needs) => { ::harness::scenario::Needs::SharedBroker };
    (@needs $needs:ident) => { ::harness::scenario::Needs::$needs };
    (@start) => { ::harness::scenario::StartRole::None };
    (@start $role:ident) => { ::harness::scenario::StartRole::$role };
    (
        $(#[doc = $doc:literal])+
        $name:ident: $example:literal,
        [$($re:expr),+ $(,)?],
        $(needs $needs:ident,)?
        $(start $role:ident,)?
        |$s:ident, $a:ident| $body:expr
    ) => {
        pub(super) const $name: $crate::steps::StepDef = {
            #[allow(unused_variables)]
            fn run(
                world: &mut $crate::world::EsmWorld,
                ctx: ::cucumber::step::Context,
            ) -> ::futures::future::LocalBoxFuture<'_, ()> {
                Box::pin(async move {
                    let $a = $crate::steps::Args { ctx: &ctx };
                    let $s = world.scenario_mut();
                    let result: anyhow::Result<()> = async { $body }.await;
                    if let Err(e) = result {
                        panic!("{e:#}");
                    }
                })
            }
            $crate::steps::StepDef {
                regex: concat!("^", $($re),+, "$"),
                example: $example,
                doc: concat!($($doc),+),
                needs: step!(@needs $($needs)?),
                start: step!(@start $($role)?),
                run,
            }
        };
    };
}

mod broker;
mod delivery;
mod destinations;
mod functions;
mod groups;
mod guarantees;
mod mappings;
mod nemesis;
mod network;
mod real_function;
mod topics;
mod workload;

/// One phrase of the vocabulary: its regex, an example exactly as docs/STEPS.md writes it, a
/// short description, what it needs of the broker, its part in the start look-ahead, its body.
#[derive(Clone, Copy)]
pub struct StepDef {
    pub regex: &'static str,
    pub example: &'static str,
    /// One or two sentences; each doc line starts with a space.
    pub doc: &'static str,
    pub needs: Needs,
    /// A start role names the mapping in the first capture.
    pub start: StartRole,
    pub run: cucumber::step::Step<EsmWorld>,
}

/// The phrases of one domain concept, one file under `steps/`.
pub struct Concept {
    pub title: &'static str,
    pub steps: &'static [StepDef],
}

/// Every concept, in the order the reference lists them.
pub const CONCEPTS: &[Concept] = &[
    broker::CONCEPT,
    topics::CONCEPT,
    functions::CONCEPT,
    real_function::CONCEPT,
    mappings::CONCEPT,
    workload::CONCEPT,
    network::CONCEPT,
    nemesis::CONCEPT,
    groups::CONCEPT,
    delivery::CONCEPT,
    destinations::CONCEPT,
    guarantees::CONCEPT,
];

/// Every phrase of the vocabulary.
pub fn definitions() -> Vec<StepDef> {
    CONCEPTS
        .iter()
        .flat_map(|c| c.steps.iter().copied())
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

/// A step's captured arguments.
pub struct Args<'a> {
    ctx: &'a Context,
}

impl Args<'_> {
    /// Capture `i` (1-based), quotes stripped; empty when its group did not take part.
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

    /// An optional numeric capture: `None` when its group did not take part in the match.
    fn optional_num<T: std::str::FromStr>(&self, i: usize) -> anyhow::Result<Option<T>> {
        if self.text(i).is_empty() {
            return Ok(None);
        }
        self.num(i).map(Some)
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

/// A doc string's text after its opening line (the content type, possibly empty).
pub fn doc_body(text: &str) -> &str {
    match text.split_once('\n') {
        Some((first, rest)) if !first.trim_start().starts_with(['{', '[']) => rest,
        _ => text,
    }
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
            assert!(
                !def.doc.trim().is_empty(),
                "{} has no description",
                def.example
            );
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
    fn both_function_options_in_either_order_pick_one_phrase() {
        let both = r#"a Lambda function "f" running "./bootstrap" with reserved concurrency 1 and a timeout of 1 second"#;
        assert_eq!(matching(both).len(), 1);
        let other_order = r#"a Lambda function "f" running './b' with a timeout of 5 seconds and reserved concurrency 3"#;
        assert_eq!(matching(other_order).len(), 1);
        assert!(matching(r#"a Lambda function "f" running "x" with 2 GB"#).is_empty());
    }

    #[test]
    fn doc_strings_lose_their_content_type_line() {
        assert_eq!(doc_body("json\n{\"a\": 1}\n"), "{\"a\": 1}\n");
        assert_eq!(doc_body("\n{}"), "{}");
        assert_eq!(doc_body("{\"a\":\n 1}"), "{\"a\":\n 1}");
    }
}
