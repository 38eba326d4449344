//! Which scenarios a run executes, where, and in what order: pure decisions from the parsed
//! features and the command line. Every scenario becomes a feature of its own, so the runner
//! can start the longest first and a shard can hold any subset.

use crate::vocabulary::vocabulary;
use cucumber::feature::Ext as _;
use cucumber::gherkin;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::tag::Ext as _;
use harness::scenario::Isolation;
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most shards a run may be split into.
pub const PARTITIONS_MAX: usize = 1_000;
/// A scenario with no known duration and nothing slow in its steps.
pub const ESTIMATE_BASE_MS: u64 = 4_000;
/// What starting a broker of its own adds.
pub const ESTIMATE_OWN_BROKER_MS: u64 = 8_000;
/// What waiting for the broker to expire a group's offsets adds (retention plus margin).
pub const ESTIMATE_EXPIRY_MS: u64 = 65_000;
/// The tag a scenario skipped by this run carries, so hooks and writers can tell.
pub const SKIPPED_TAG: &str = "esm-chaos-skipped";

/// `PATH:LINE` on the command line: one scenario (or one Examples row) of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    pub line: Option<usize>,
}

impl Target {
    /// `features/a.feature:12` names a line when the part before the colon exists and the
    /// whole does not.
    pub fn parse(arg: &Path) -> Target {
        let text = arg.to_string_lossy();
        if !arg.exists()
            && let Some((path, line)) = text.rsplit_once(':')
            && let Ok(line) = line.parse::<usize>()
            && Path::new(path).exists()
        {
            return Target {
                path: PathBuf::from(path),
                line: Some(line),
            };
        }
        Target {
            path: arg.to_path_buf(),
            line: None,
        }
    }
}

/// `--partition K/N`: this machine runs shard K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("--partition {s:?}: expected K/N with 1 <= K <= N <= {PARTITIONS_MAX}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count || count > PARTITIONS_MAX {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

/// What narrows a run.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tags: Option<TagOperation>,
    pub name: Option<Regex>,
    pub partition: Option<Partition>,
    /// Scenarios that need control of the brokers or the network are skipped (external cluster).
    pub no_broker_control: bool,
}

/// One scenario (one Examples row of an outline) ready to run: a feature of its own.
#[derive(Debug, Clone)]
pub struct Planned {
    pub feature: gherkin::Feature,
    pub file: PathBuf,
    pub line: usize,
    /// The line of its Scenario (Outline) keyword: Examples rows share their outline's.
    pub block_line: usize,
    pub feature_name: String,
    pub name: String,
    pub expected_ms: u64,
    /// Own-broker slots it takes (0: it runs on the shared broker).
    pub broker_slots: u32,
    pub skip_reason: Option<&'static str>,
}

impl Planned {
    /// The key of this scenario in the durations file: stable across edits that move lines.
    pub fn duration_key(&self) -> String {
        duration_key(&self.file, &self.name)
    }

    /// `file:line`, as `--list` prints and `run` accepts.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

pub fn duration_key(file: &Path, scenario: &str) -> String {
    let file = file.file_name().map(|f| f.to_string_lossy().into_owned());
    format!("{}: {scenario}", file.unwrap_or_default())
}

/// Every scenario of the files, one per Examples row, in file order.
pub fn scenarios(files: &[PathBuf]) -> Result<Vec<Planned>, String> {
    let mut out = Vec::new();
    for file in files {
        let feature = gherkin::Feature::parse_path(file, gherkin::GherkinEnv::default())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        out.extend(units(&feature, file)?);
    }
    Ok(out)
}

/// Splits a feature into single-scenario features (outlines expanded), keeping background,
/// rule and tags.
fn units(feature: &gherkin::Feature, file: &Path) -> Result<Vec<Planned>, String> {
    let bare = gherkin::Feature {
        scenarios: Vec::new(),
        rules: Vec::new(),
        ..feature.clone()
    };
    let mut out = Vec::new();
    let in_rules = feature
        .rules
        .iter()
        .flat_map(|r| r.scenarios.iter().map(move |s| (Some(r), s)));
    for (rule, scenario) in feature.scenarios.iter().map(|s| (None, s)).chain(in_rules) {
        let mut unit = bare.clone();
        match rule {
            None => unit.scenarios = vec![scenario.clone()],
            Some(r) => {
                unit.rules = vec![gherkin::Rule {
                    scenarios: vec![scenario.clone()],
                    ..r.clone()
                }]
            }
        }
        let expanded = unit
            .expand_examples()
            .map_err(|e| format!("{}: {e}", file.display()))?;
        for single in split(expanded) {
            out.push(plan(single, file, scenario.position.line));
        }
    }
    Ok(out)
}

/// One feature per scenario of `feature` (which holds one outline's rows at most).
fn split(feature: gherkin::Feature) -> Vec<gherkin::Feature> {
    let bare = gherkin::Feature {
        scenarios: Vec::new(),
        rules: Vec::new(),
        ..feature.clone()
    };
    let mut out: Vec<gherkin::Feature> = feature
        .scenarios
        .iter()
        .map(|s| gherkin::Feature {
            scenarios: vec![s.clone()],
            ..bare.clone()
        })
        .collect();
    for rule in &feature.rules {
        out.extend(rule.scenarios.iter().map(|s| gherkin::Feature {
            rules: vec![gherkin::Rule {
                scenarios: vec![s.clone()],
                ..rule.clone()
            }],
            ..bare.clone()
        }));
    }
    out
}

fn plan(feature: gherkin::Feature, file: &Path, block_line: usize) -> Planned {
    let (rule, scenario) = only_scenario(&feature);
    let steps = crate::preflight::scenario_steps(&feature, rule, scenario);
    let isolation = vocabulary().isolation(&steps);
    let broker_slots = if isolation.own_broker {
        isolation.slot_weight()
    } else {
        0
    };
    Planned {
        file: file.to_path_buf(),
        line: scenario.position.line,
        block_line,
        feature_name: feature.name.clone(),
        name: scenario.name.clone(),
        expected_ms: estimate_ms(&steps, isolation),
        broker_slots,
        skip_reason: None,
        feature,
    }
}

/// The single scenario of a planned feature (and its rule).
pub fn only_scenario(feature: &gherkin::Feature) -> (Option<&gherkin::Rule>, &gherkin::Scenario) {
    match (feature.scenarios.first(), feature.rules.first()) {
        (Some(s), _) => (None, s),
        (None, Some(r)) => match r.scenarios.first() {
            Some(s) => (Some(r), s),
            None => unreachable!("a planned rule holds exactly one scenario"),
        },
        (None, None) => unreachable!("a planned feature holds exactly one scenario"),
    }
}

/// A static guess from the steps: the waits they name.
pub fn estimate_ms(steps: &[&str], isolation: Isolation) -> u64 {
    static FOR_SECONDS: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let for_seconds = FOR_SECONDS.get_or_init(|| {
        Regex::new(r"(?:for|after) (\d+) (second|minute)s?").expect("a valid literal regex")
    });
    let mut total = ESTIMATE_BASE_MS;
    if isolation.own_broker {
        total += ESTIMATE_OWN_BROKER_MS;
    }
    for step in steps {
        if step.ends_with(" expire") {
            total += ESTIMATE_EXPIRY_MS;
        }
        for caps in for_seconds.captures_iter(step) {
            let n: u64 = caps[1].parse().unwrap_or(0);
            let unit_ms = if &caps[2] == "minute" { 60_000 } else { 1_000 };
            total = total.saturating_add(n.saturating_mul(unit_ms));
        }
    }
    total
}

/// Keeps the scenarios the targets, tags, name and partition select; marks those this run
/// cannot host as skipped. `lines` maps a file to the lines asked for (absent: whole file).
pub fn select(
    all: Vec<Planned>,
    lines: &BTreeMap<PathBuf, Vec<usize>>,
    filter: &Filter,
) -> Vec<Planned> {
    let mut chosen: Vec<Planned> = Vec::new();
    let by_file = group_by_file(all);
    for (file, planned) in by_file {
        let wanted = lines.get(&file);
        for p in planned
            .iter()
            .filter(|p| wanted.is_none_or(|l| at_lines(p, &planned, l)))
        {
            if matches_tags(p, filter.tags.as_ref())
                && filter.name.as_ref().is_none_or(|re| re.is_match(&p.name))
            {
                chosen.push(p.clone());
            }
        }
    }
    if let Some(partition) = filter.partition {
        chosen = shard(chosen, partition);
    }
    if filter.no_broker_control {
        for p in &mut chosen {
            p.skip_reason = broker_control_reason(p);
        }
    }
    chosen
}

fn group_by_file(all: Vec<Planned>) -> Vec<(PathBuf, Vec<Planned>)> {
    let mut groups: Vec<(PathBuf, Vec<Planned>)> = Vec::new();
    for p in all {
        match groups.last_mut() {
            Some((file, list)) if *file == p.file => list.push(p),
            _ => groups.push((p.file.clone(), vec![p])),
        }
    }
    groups
}

/// A line selects the scenario (or Examples row) starting on it, else the scenario whose
/// block holds it: the last one starting at or before it.
fn at_lines(p: &Planned, file: &[Planned], lines: &[usize]) -> bool {
    lines.iter().any(|&line| {
        if file.iter().any(|q| q.line == line) {
            return p.line == line;
        }
        let owner = file
            .iter()
            .map(|q| q.block_line)
            .filter(|&start| start <= line)
            .max();
        owner == Some(p.block_line)
    })
}

fn matches_tags(p: &Planned, tags: Option<&TagOperation>) -> bool {
    let Some(op) = tags else { return true };
    let (rule, scenario) = only_scenario(&p.feature);
    op.eval(
        p.feature
            .tags
            .iter()
            .chain(rule.iter().flat_map(|r| r.tags.iter()))
            .chain(scenario.tags.iter()),
    )
}

/// Shard `partition` of a deterministic split balanced by expected duration: longest first,
/// each to the lightest shard so far (ties to the lowest index). Every machine computes the
/// same split from the same features, so the static estimate is used, never a local history.
pub fn shard(chosen: Vec<Planned>, partition: Partition) -> Vec<Planned> {
    let mut order: Vec<(usize, u64)> = chosen
        .iter()
        .enumerate()
        .map(|(i, p)| (i, static_estimate_ms(p)))
        .collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut load_ms = vec![0u64; partition.count];
    let mut owner = vec![0usize; chosen.len()];
    for (i, ms) in order {
        let lightest = (0..partition.count)
            .min_by_key(|&k| (load_ms[k], k))
            .unwrap_or(0);
        load_ms[lightest] += ms;
        owner[i] = lightest;
    }
    chosen
        .into_iter()
        .zip(owner)
        .filter(|(_, k)| *k + 1 == partition.index)
        .map(|(p, _)| p)
        .collect()
}

fn static_estimate_ms(p: &Planned) -> u64 {
    let (rule, scenario) = only_scenario(&p.feature);
    let steps = crate::preflight::scenario_steps(&p.feature, rule, scenario);
    estimate_ms(&steps, vocabulary().isolation(&steps))
}

/// Why a scenario cannot run on a cluster the harness does not own, decided from its steps.
pub fn broker_control_reason(p: &Planned) -> Option<&'static str> {
    let (rule, scenario) = only_scenario(&p.feature);
    let steps = crate::preflight::scenario_steps(&p.feature, rule, scenario);
    let isolation = vocabulary().isolation(&steps);
    if isolation.proxied {
        Some("it cuts or slows the network, which needs a broker of its own (--broker local)")
    } else if isolation.own_broker {
        Some("it restarts or kills brokers or needs its own broker settings (--broker local)")
    } else {
        None
    }
}

/// What a run can host at once: scenarios in all, and own-broker slots among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub scenarios_max: usize,
    pub broker_slots_max: u32,
}

/// The order scenarios are handed to the runner: the longest first (known durations win over
/// the static estimate), except that a scenario is held back while it would only wait. The
/// runner starts scenarios in this order as its slots free up, and one with a broker of its own
/// waits for a broker slot inside its scenario slot: handed over too early it blocks a slot the
/// shared pool could use. So the order is the start order of a simulated run (greedy list
/// scheduling on the expected durations); skipped scenarios come last.
pub fn order(
    mut chosen: Vec<Planned>,
    known_ms: &BTreeMap<String, u64>,
    capacity: Capacity,
) -> Vec<Planned> {
    for p in &mut chosen {
        if let Some(ms) = known_ms.get(&p.duration_key()) {
            p.expected_ms = *ms;
        }
    }
    chosen.sort_by(|a, b| {
        (a.skip_reason.is_some(), std::cmp::Reverse(a.expected_ms))
            .cmp(&(b.skip_reason.is_some(), std::cmp::Reverse(b.expected_ms)))
    });
    let skipped_at = chosen
        .iter()
        .position(|p| p.skip_reason.is_some())
        .unwrap_or(chosen.len());
    let skipped = chosen.split_off(skipped_at);
    let mut started = simulate_starts(chosen, capacity);
    started.extend(skipped);
    started
}

/// Starts `queue` (longest first) on a simulated clock: at each moment the first scenario that
/// fits starts; when none fits, the clock moves to the next expected end.
fn simulate_starts(mut queue: Vec<Planned>, capacity: Capacity) -> Vec<Planned> {
    let scenarios_max = capacity.scenarios_max.max(1);
    let slots_max = capacity.broker_slots_max.max(1);
    let weight = |p: &Planned| p.broker_slots.min(slots_max);
    let mut started = Vec::with_capacity(queue.len());
    // (expected end, broker slots held) of the scenarios running in the simulation.
    let mut running: Vec<(u64, u32)> = Vec::new();
    let mut now_ms = 0u64;
    while !queue.is_empty() {
        let slots_used: u32 = running.iter().map(|(_, w)| w).sum();
        let fits = queue
            .iter()
            .position(|p| running.len() < scenarios_max && slots_used + weight(p) <= slots_max);
        match fits {
            Some(i) => {
                let p = queue.remove(i);
                running.push((now_ms.saturating_add(p.expected_ms), weight(&p)));
                started.push(p);
            }
            None => {
                let Some(next_end) = running.iter().map(|(end, _)| *end).min() else {
                    // Nothing runs and nothing fits: cannot happen with weights clamped to
                    // the slots; start the rest as they are rather than loop.
                    started.append(&mut queue);
                    break;
                };
                now_ms = next_end;
                running.retain(|(end, _)| *end > next_end);
            }
        }
    }
    started
}

/// Replaces a skipped scenario's steps by one no step matches, whose text is the reason:
/// Cucumber then reports it skipped (JUnit too), with the reason in plain sight.
pub fn into_feature(p: Planned) -> gherkin::Feature {
    let Some(reason) = p.skip_reason else {
        return p.feature;
    };
    let mut feature = p.feature;
    feature.background = None;
    let scenarios = match feature.rules.first_mut() {
        Some(rule) => {
            rule.background = None;
            &mut rule.scenarios
        }
        None => &mut feature.scenarios,
    };
    for scenario in scenarios.iter_mut() {
        scenario.tags.push(SKIPPED_TAG.to_string());
        let template = scenario.steps.first().cloned();
        scenario.steps = template
            .map(|step| gherkin::Step {
                value: format!("skipped: {reason}"),
                docstring: None,
                table: None,
                ..step
            })
            .into_iter()
            .collect();
    }
    feature
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEATURE: &str = "\
Feature: F
  Background:
    Given a Kafka broker

  Scenario: plain LATEST
    Given a topic \"orders\" with 1 partition

  @slow
  Scenario: expiry
    When the committed offsets of group \"g\" expire

  Scenario: restart
    When the broker is restarted

  Scenario Outline: rows <n>
    Given a topic \"orders\" with <n> partitions
    Examples:
      | n |
      | 1 |
      | 3 |
";

    fn planned() -> (tempfile::TempDir, PathBuf, Vec<Planned>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.feature");
        std::fs::write(&file, FEATURE).unwrap();
        let all = scenarios(std::slice::from_ref(&file)).unwrap();
        (dir, file, all)
    }

    fn names(list: &[Planned]) -> Vec<&str> {
        list.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn every_scenario_and_row_is_its_own_feature() {
        let (_dir, _file, all) = planned();
        assert_eq!(
            names(&all),
            ["plain LATEST", "expiry", "restart", "rows 1", "rows 3"]
        );
        assert_eq!(all[0].line, 5);
        assert_eq!(all[3].line, 19);
        assert!(all.iter().all(|p| p.feature.background.is_some()));
    }

    #[test]
    fn a_line_selects_its_scenario_or_row() {
        let (_dir, file, all) = planned();
        let pick = |lines: Vec<usize>| {
            let map = BTreeMap::from([(file.clone(), lines)]);
            names(&select(all.clone(), &map, &Filter::default()))
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(vec![9]), ["expiry"]);
        assert_eq!(
            pick(vec![10]),
            ["expiry"],
            "a step line selects its scenario"
        );
        assert_eq!(pick(vec![20]), ["rows 3"]);
        assert_eq!(pick(vec![15]), ["rows 1", "rows 3"]);
        assert!(pick(vec![1]).is_empty());
    }

    #[test]
    fn tags_and_name_narrow() {
        let (_dir, _file, all) = planned();
        let filter = Filter {
            tags: Some("not @slow".parse().unwrap()),
            name: Some(Regex::new("LATEST|rows").unwrap()),
            ..Filter::default()
        };
        assert_eq!(
            names(&select(all, &BTreeMap::new(), &filter)),
            ["plain LATEST", "rows 1", "rows 3"]
        );
    }

    #[test]
    fn shards_cover_every_scenario_once_and_balance() {
        let (_dir, _file, all) = planned();
        let mut seen = Vec::new();
        let mut loads = Vec::new();
        for index in 1..=2 {
            let part = shard(all.clone(), Partition { index, count: 2 });
            loads.push(part.iter().map(|p| p.expected_ms).sum::<u64>());
            seen.extend(part.into_iter().map(|p| p.name));
        }
        seen.sort();
        let mut expected: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
        expected.sort();
        assert_eq!(seen, expected);
        // The expiry scenario alone outweighs the rest: it has a shard to itself.
        assert!(loads.iter().any(|&ms| ms > ESTIMATE_EXPIRY_MS));
        let small = loads.iter().min().copied().unwrap();
        assert!(small < ESTIMATE_EXPIRY_MS, "{loads:?}");
    }

    #[test]
    fn partition_is_parsed_with_a_clear_error() {
        assert_eq!(
            "2/3".parse::<Partition>().unwrap(),
            Partition { index: 2, count: 3 }
        );
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            let err = bad.parse::<Partition>().unwrap_err();
            assert!(err.contains("--partition"), "{err}");
        }
    }

    #[test]
    fn external_skips_broker_faults_with_a_reason() {
        let (_dir, _file, all) = planned();
        let filter = Filter {
            no_broker_control: true,
            ..Filter::default()
        };
        let chosen = select(all, &BTreeMap::new(), &filter);
        let skipped: Vec<&str> = chosen
            .iter()
            .filter(|p| p.skip_reason.is_some())
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(skipped, ["restart"]);
        let feature = into_feature(chosen[2].clone());
        let (_, scenario) = only_scenario(&feature);
        assert_eq!(scenario.steps.len(), 1);
        assert!(scenario.steps[0].value.starts_with("skipped: it restarts"));
        assert!(scenario.tags.iter().any(|t| t == SKIPPED_TAG));
    }

    #[test]
    fn longest_first_with_known_durations_winning() {
        let (_dir, _file, all) = planned();
        let ordered = order(all.clone(), &BTreeMap::new(), ROOMY);
        assert_eq!(ordered[0].name, "expiry");
        assert_eq!(ordered[1].name, "restart");
        let known = BTreeMap::from([(all[4].duration_key(), 500_000)]);
        assert_eq!(order(all, &known, ROOMY)[0].name, "rows 3");
    }

    const ROOMY: Capacity = Capacity {
        scenarios_max: 8,
        broker_slots_max: 4,
    };

    fn timed(name: &str, expected_ms: u64, broker_slots: u32) -> Planned {
        let (_dir, _file, all) = planned();
        Planned {
            name: name.to_string(),
            expected_ms,
            broker_slots,
            skip_reason: None,
            ..all[0].clone()
        }
    }

    #[test]
    fn a_scenario_that_would_wait_for_a_broker_slot_is_held_back() {
        // One broker slot, two scenario slots: handing "own 2" over second would leave it
        // waiting 10 s in a slot the shared scenarios could use.
        let capacity = Capacity {
            scenarios_max: 2,
            broker_slots_max: 1,
        };
        let all = vec![
            timed("own 1", 10_000, 1),
            timed("own 2", 9_000, 1),
            timed("shared 1", 5_000, 0),
            timed("shared 2", 5_000, 0),
        ];
        let ordered = order(all, &BTreeMap::new(), capacity);
        assert_eq!(names(&ordered), ["own 1", "shared 1", "shared 2", "own 2"]);
    }

    #[test]
    fn a_cluster_waits_for_its_slots_and_smaller_ones_fill_the_gap() {
        let capacity = Capacity {
            scenarios_max: 8,
            broker_slots_max: 4,
        };
        let all = vec![
            timed("own a", 30_000, 1),
            timed("own b", 30_000, 1),
            timed("cluster", 25_000, 3),
            timed("own c", 20_000, 1),
            timed("shared", 5_000, 0),
        ];
        let ordered = order(all, &BTreeMap::new(), capacity);
        // The cluster needs 3 of 4 slots: it starts when "own a" and "own b" end.
        assert_eq!(
            names(&ordered),
            ["own a", "own b", "own c", "shared", "cluster"]
        );
    }

    #[test]
    fn skipped_scenarios_come_last_and_every_scenario_is_kept() {
        let mut skipped = timed("skipped", 90_000, 1);
        skipped.skip_reason = Some("no broker control");
        let all = vec![skipped, timed("short", 1_000, 0), timed("long", 50_000, 1)];
        let ordered = order(all, &BTreeMap::new(), ROOMY);
        assert_eq!(names(&ordered), ["long", "short", "skipped"]);
    }

    #[test]
    fn target_reads_a_line_suffix() {
        let (_dir, file, _all) = planned();
        let with_line = PathBuf::from(format!("{}:12", file.display()));
        assert_eq!(
            Target::parse(&with_line),
            Target {
                path: file.clone(),
                line: Some(12)
            }
        );
        assert_eq!(Target::parse(&file).line, None);
    }
}
