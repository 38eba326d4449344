//! The vocabulary as a whole: every step definition compiled once, the one matcher that both
//! refuses unknown steps before a run and reads a scenario's isolation from its steps, and the
//! Markdown reference generated from the definitions (docs/STEPS.md).

use crate::steps::{CONCEPTS, StepDef, definitions, unquote};
use harness::scenario::{DeclaredStep, Isolation, StartRole};
use regex::Regex;
use std::sync::OnceLock;

/// Every definition with its compiled regex.
pub struct Vocabulary {
    defs: Vec<(Regex, StepDef)>,
}

/// The vocabulary, compiled on first use.
pub fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(|| Vocabulary {
        defs: definitions()
            .into_iter()
            .map(|d| (Regex::new(d.regex).expect("step regexes compile"), d))
            .collect(),
    })
}

impl Vocabulary {
    pub fn definitions(&self) -> impl Iterator<Item = (&Regex, &StepDef)> {
        self.defs.iter().map(|(re, def)| (re, def))
    }

    /// Every definition whose regex matches `text` (one for a known step).
    pub fn matching(&self, text: &str) -> Vec<&StepDef> {
        self.defs
            .iter()
            .filter(|(re, _)| re.is_match(text))
            .map(|(_, def)| def)
            .collect()
    }

    /// What the step `text` declares, and the mapping it names when it has a start role. An
    /// unknown step declares nothing (the preflight has refused it already).
    pub fn declared<'t>(&self, text: &'t str) -> DeclaredStep<'t> {
        let Some((re, def)) = self.defs.iter().find(|(re, _)| re.is_match(text)) else {
            return DeclaredStep::default();
        };
        let mapping = (def.start != StartRole::None)
            .then(|| re.captures(text)?.get(1).map(|m| unquote(m.as_str())))
            .flatten();
        DeclaredStep {
            needs: def.needs,
            start: def.start,
            mapping,
        }
    }

    /// A scenario's isolation, from its step texts in order.
    pub fn isolation(&self, steps: &[&str]) -> Isolation {
        Isolation::of_steps(steps.iter().map(|text| self.declared(text)))
    }
}

/// The first and last lines of docs/STEPS.md's generated section.
pub const MARKDOWN_BEGIN: &str = "<!-- BEGIN GENERATED: esm-chaos steps --markdown -->";
pub const MARKDOWN_END: &str = "<!-- END GENERATED -->";

/// The reference of every phrase as Markdown, one table per concept, in the order of
/// [`CONCEPTS`]: what `esm-chaos steps --markdown` prints between the markers of docs/STEPS.md.
pub fn markdown() -> String {
    let mut out = String::new();
    for concept in CONCEPTS {
        out.push_str(&format!("\n### {}\n\n", concept.title));
        out.push_str("| Phrase | Needs | What it does |\n|---|---|---|\n");
        for def in concept.steps {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                cell(def.example),
                def.needs.describe(),
                cell(def.doc.trim())
            ));
        }
    }
    // A blank line ends the last table before the end marker.
    out.push('\n');
    out
}

/// A table cell's text: a `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', r"\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isolation(steps: &[&str]) -> Isolation {
        vocabulary().isolation(steps)
    }

    #[test]
    fn isolation_is_read_from_the_steps_declarations() {
        assert_eq!(
            isolation(&["a Kafka broker", "the mapping \"esm\" is killed"]),
            Isolation::default()
        );
        assert!(isolation(&["the broker is restarted"]).own_broker);
        assert!(isolation(&["broker 2 is killed"]).own_broker);
        assert!(isolation(&["broker 2 is started"]).own_broker);
        let cluster = isolation(&["a Kafka cluster of 3 brokers"]);
        assert!(cluster.own_broker && cluster.own_cluster);
        assert_eq!(cluster.slot_weight(), harness::scenario::CLUSTER_SLOTS);
        assert_eq!(isolation(&["the broker is restarted"]).slot_weight(), 1);
        let network =
            isolation(&["the network between \"esm\" and the broker is cut for 10 seconds"]);
        assert!(network.own_broker && network.proxied);
        let chaos = isolation(&["random faults hit the mapping \"esm\" for 30 seconds"]);
        assert!(chaos.own_broker && chaos.proxied);
        assert!(!isolation(&["a Kafka broker with offsets retention of 1 minute"]).own_broker);
        assert!(isolation(&["a Kafka broker with offsets retention of 2 minutes"]).own_broker);
        assert!(isolation(&["a Kafka broker with offsets retention of 10 minutes"]).own_broker);
    }

    #[test]
    fn a_start_followed_by_a_refusal_is_looked_ahead() {
        let refused = |steps: &[&str]| isolation(steps).refused_starts;
        let started = r#"the mapping "esm" is started"#;
        assert!(
            refused(&[
                started,
                r#"the mapping 'esm' fails to start with an error mentioning "BatchSize""#
            ])
            .contains("esm")
        );
        assert!(
            refused(&[
                r#"the mapping "esm" is started with 2 pollers"#,
                r#"the mapping "esm" fails to start with errors mentioning "a" and "b""#
            ])
            .contains("esm")
        );
        let refusal = r#"the mapping "esm" fails to start with an error mentioning "x""#;
        assert!(refused(&[started, "5 seconds pass", refusal]).is_empty());
        assert!(refused(&[r#"the mapping "other" is started"#, refusal]).is_empty());
        assert!(refused(&[refusal]).is_empty());
    }

    #[test]
    fn the_markdown_lists_every_phrase_once() {
        let markdown = markdown();
        for def in definitions() {
            let row = format!("| `{}` |", cell(def.example));
            assert_eq!(markdown.matches(&row).count(), 1, "{}", def.example);
        }
    }
}
