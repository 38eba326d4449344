//! A scenario's artifacts: the history as JSON lines, a timeline picture (hand-written SVG),
//! the consumer and broker logs, and an index.html that ties them together with the verdicts.

use crate::check::Verdict;
use crate::history::{
    EnvironmentChange, Event, EventKind, Fault, FaultPhase, History, InvocationEvent,
    InvocationOutcome,
};
use crate::names::Names;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Marks drawn per lane and kind (dots, bars); beyond it marks are sampled evenly.
pub const MARKS_PER_LANE_MAX: usize = 5_000;
/// Bytes kept of each log file: its end, where a failure usually is.
pub const LOG_BYTES_MAX: u64 = 5 * 1024 * 1024;

const WIDTH: f64 = 1400.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 90.0;
const LANE_HEIGHT: f64 = 150.0;
const LANE_GAP: f64 = 36.0;
const GROUP_COLOURS: [&str; 4] = ["#1f4e9c", "#7b2d9c", "#0b7a75", "#9c5b1f"];

/// Escapes text for XML and HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn outcome_colour(outcome: InvocationOutcome, malformed: bool) -> &'static str {
    match outcome {
        _ if malformed => "#8b0000",
        InvocationOutcome::Success => "#2e9e44",
        InvocationOutcome::FunctionError => "#d62728",
        InvocationOutcome::PartialFailure => "#ff8c1a",
        InvocationOutcome::Throttled => "#999999",
        InvocationOutcome::ServiceError => "#7f7f7f",
    }
}

type Lane = (String, i32);

/// What happened to a real function's environment in one invocation, marked on its bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// The invocation waited for a new environment's init.
    ColdStart,
    /// It passed the function timeout; its environment was killed.
    Timeout,
    /// Its environment's process exited under it.
    Crash,
    /// It was throttled (429).
    Throttle,
}

impl Mark {
    /// The glyph, its colour, and whether it sits at the bar's start (else its end).
    fn glyph(self) -> (&'static str, &'static str, bool) {
        match self {
            Mark::ColdStart => ("▲", "#1f77b4", true),
            Mark::Timeout => ("◆", "#c2185b", false),
            Mark::Crash => ("✖", "#000000", false),
            Mark::Throttle => ("⊘", "#555555", true),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mark::ColdStart => "cold start",
            Mark::Timeout => "timed out",
            Mark::Crash => "environment crashed",
            Mark::Throttle => "throttled",
        }
    }
}

/// Marks per invocation id, from the environments' changes and the invocations' outcomes.
fn invocation_marks(events: &[Arc<Event>]) -> BTreeMap<u64, Vec<Mark>> {
    let mut marks: BTreeMap<u64, Vec<Mark>> = BTreeMap::new();
    for e in events {
        let (id, mark) = match &e.kind {
            EventKind::Environment { change, .. } => match change {
                EnvironmentChange::Invoked {
                    invocation,
                    cold: true,
                } => (*invocation, Mark::ColdStart),
                EnvironmentChange::TimedOut { invocation } => (*invocation, Mark::Timeout),
                EnvironmentChange::Exited {
                    invocation: Some(invocation),
                    ..
                } => (*invocation, Mark::Crash),
                _ => continue,
            },
            EventKind::Invocation(inv) if inv.outcome == InvocationOutcome::Throttled => {
                (inv.id, Mark::Throttle)
            }
            _ => continue,
        };
        marks.entry(id).or_default().push(mark);
    }
    marks
}

/// One invocation's share of a lane.
struct Bar {
    start_ms: u64,
    end_ms: u64,
    low: i64,
    high: i64,
    colour: &'static str,
    label: String,
    marks: Vec<Mark>,
}

#[derive(Default)]
struct LaneData {
    dots: Vec<(u64, i64)>,
    bars: Vec<Bar>,
    /// Per group: (time, committed offset) in time order.
    commits: BTreeMap<String, Vec<(u64, i64)>>,
    low: i64,
    high: i64,
}

impl LaneData {
    fn widen(&mut self, offset: i64) {
        if self.dots.is_empty() && self.bars.is_empty() {
            (self.low, self.high) = (offset, offset);
        }
        self.low = self.low.min(offset);
        self.high = self.high.max(offset);
    }
}

fn lanes(events: &[Arc<Event>]) -> BTreeMap<Lane, LaneData> {
    let mut lanes: BTreeMap<Lane, LaneData> = BTreeMap::new();
    let marks = invocation_marks(events);
    for e in events {
        match &e.kind {
            EventKind::Produced {
                topic,
                partition,
                offset,
                ..
            } => {
                let lane = lanes.entry((topic.to_string(), *partition)).or_default();
                lane.widen(*offset);
                lane.dots.push((e.at_ms, *offset));
            }
            EventKind::Invocation(inv) => {
                let InvocationEvent {
                    id,
                    start_ms,
                    end_ms,
                    records,
                    outcome,
                    malformed,
                    ..
                } = &**inv;
                let mut ranges: BTreeMap<Lane, (i64, i64)> = BTreeMap::new();
                for r in records {
                    let range = ranges
                        .entry((r.topic.to_string(), r.partition))
                        .or_insert((r.offset, r.offset));
                    *range = (range.0.min(r.offset), range.1.max(r.offset));
                }
                for (key, (low, high)) in ranges {
                    let lane = lanes.entry(key).or_default();
                    lane.widen(low);
                    lane.widen(high);
                    lane.bars.push(Bar {
                        start_ms: *start_ms,
                        end_ms: *end_ms,
                        low,
                        high,
                        colour: outcome_colour(*outcome, malformed.is_some()),
                        label: format!(
                            "#{id} {outcome:?}, {}, {start_ms} to {end_ms} ms",
                            offsets_label(low, high)
                        ),
                        marks: marks.get(id).cloned().unwrap_or_default(),
                    });
                }
            }
            _ => {}
        }
    }
    for e in events {
        if let EventKind::Commit {
            group,
            topic,
            partition,
            offset,
        } = &e.kind
            && let Some(lane) = lanes.get_mut(&(topic.clone(), *partition))
        {
            lane.commits
                .entry(group.clone())
                .or_default()
                .push((e.at_ms, *offset));
        }
    }
    lanes
}

/// Every `step`-th item so at most `max` remain, and the step.
fn sample<T>(items: &[T], max: usize) -> (Vec<&T>, usize) {
    let step = items.len().div_ceil(max).max(1);
    (items.iter().step_by(step).collect(), step)
}

struct Scale {
    t0: u64,
    span_ms: f64,
}

impl Scale {
    fn x(&self, t: u64) -> f64 {
        LEFT + (t.saturating_sub(self.t0) as f64) / self.span_ms * (WIDTH - LEFT - RIGHT)
    }
}

fn time_range(events: &[Arc<Event>]) -> Scale {
    let mut t0 = u64::MAX;
    let mut t1 = 0u64;
    for e in events {
        t0 = t0.min(e.at_ms);
        t1 = t1.max(e.at_ms);
        if let EventKind::Invocation(inv) = &e.kind {
            t1 = t1.max(inv.end_ms);
        }
    }
    if t0 == u64::MAX {
        t0 = 0;
    }
    Scale {
        t0,
        span_ms: (t1.saturating_sub(t0)).max(1) as f64,
    }
}

/// Fault windows as (fault, begin, end), paired by fault id; an unclosed window runs to the
/// end of the picture.
fn fault_windows(events: &[Arc<Event>], end_ms: u64) -> Vec<(&Fault, u64, u64)> {
    let mut open: BTreeMap<u64, (&Fault, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        if let EventKind::Fault { fault, phase } = &e.kind {
            match phase {
                FaultPhase::Began => {
                    open.insert(fault.id, (fault, e.at_ms));
                }
                FaultPhase::Ended => {
                    let begin_ms = open.remove(&fault.id).map_or(e.at_ms, |(_, at_ms)| at_ms);
                    out.push((fault, begin_ms, e.at_ms));
                }
            }
        }
    }
    out.extend(
        open.into_values()
            .map(|(fault, begin_ms)| (fault, begin_ms, end_ms)),
    );
    out
}

/// The timeline picture: one lane per (topic, partition), time across, offsets up.
pub fn timeline_svg(events: &[Arc<Event>], names: &Names, title: &str) -> String {
    let lanes = lanes(events);
    let scale = time_range(events);
    let end_ms = scale.t0 + scale.span_ms as u64;
    let height = TOP + lanes.len().max(1) as f64 * (LANE_HEIGHT + LANE_GAP) + 30.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(
        svg,
        r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#,
        esc(&names.localise(title))
    );
    legend(&mut svg);
    let plot_bottom = height - 30.0;
    for (fault, begin, end) in fault_windows(events, end_ms) {
        let (x0, x1) = (scale.x(begin), scale.x(end));
        let name = fault.to_string();
        let _ = write!(
            svg,
            r##"<rect class="fault" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#ffd700" fill-opacity="0.25"><title>{}</title></rect><text x="{x0:.1}" y="{:.1}" fill="#8a6d00">{}</text>"##,
            (x1 - x0).max(1.0),
            plot_bottom - TOP,
            esc(&names.localise(&name)),
            TOP - 4.0,
            esc(&names.localise(&name))
        );
    }
    lifecycle_ticks(&mut svg, events, &scale, names, plot_bottom);
    let mut groups: Vec<String> = lanes
        .values()
        .flat_map(|l| l.commits.keys().cloned())
        .collect();
    groups.sort();
    groups.dedup();
    for (i, ((topic, partition), lane)) in lanes.iter().enumerate() {
        let top = TOP + 10.0 + i as f64 * (LANE_HEIGHT + LANE_GAP);
        draw_lane(
            &mut svg, names, &scale, top, topic, *partition, lane, &groups,
        );
    }
    time_axis(&mut svg, &scale, plot_bottom);
    svg.push_str("</svg>\n");
    svg
}

/// Candidate tick spacings: 1, 2, 5 times a power of ten milliseconds, up to 10 minutes.
const TICK_STEPS_MS: [u64; 15] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
];
/// Most ticks on the time axis.
const TICKS_MAX: u64 = 12;

/// The smallest candidate spacing that puts at most [`TICKS_MAX`] ticks on `span_ms`.
pub fn tick_step_ms(span_ms: u64) -> u64 {
    TICK_STEPS_MS
        .iter()
        .copied()
        .find(|step| span_ms / step < TICKS_MAX)
        .unwrap_or_else(|| span_ms.div_ceil(TICKS_MAX).next_multiple_of(60_000))
}

/// A tick's label: time since the first event, in seconds (milliseconds below a second).
pub fn tick_label(since_start_ms: u64, step_ms: u64) -> String {
    if step_ms < 1_000 && since_start_ms < 1_000 {
        format!("{since_start_ms} ms")
    } else if step_ms < 1_000 {
        format!("{:.1} s", since_start_ms as f64 / 1_000.0)
    } else {
        format!("{} s", since_start_ms / 1_000)
    }
}

/// "offsets 3 to 7", or "offset 3".
pub fn offsets_label(low: i64, high: i64) -> String {
    if low == high {
        format!("offset {low}")
    } else {
        format!("offsets {low} to {high}")
    }
}

/// Ticks along the bottom, labelled with the time since the first event.
fn time_axis(svg: &mut String, scale: &Scale, bottom: f64) {
    let span_ms = scale.span_ms as u64;
    let step = tick_step_ms(span_ms);
    let _ = write!(
        svg,
        r##"<line class="axis" x1="{LEFT}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#333"/>"##,
        WIDTH - RIGHT
    );
    for since in (0..=span_ms).step_by(usize::try_from(step).unwrap_or(usize::MAX)) {
        let x = scale.x(scale.t0 + since);
        let _ = write!(
            svg,
            r##"<line class="tick" x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"##,
            bottom + 4.0,
            bottom + 15.0,
            tick_label(since, step)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">time since the first event</text>"#,
        WIDTH - RIGHT,
        bottom + 27.0
    );
}

fn legend(svg: &mut String) {
    let items = [
        ("#555555", "produced record"),
        ("#2e9e44", "invocation: success"),
        ("#d62728", "function error"),
        ("#ff8c1a", "partial failure"),
        ("#999999", "throttled"),
        ("#8b0000", "malformed event"),
        ("#1f4e9c", "committed offset (a line per group)"),
        ("#ffd700", "fault window"),
    ];
    let marks = [Mark::ColdStart, Mark::Timeout, Mark::Crash, Mark::Throttle];
    let mut x = 10.0;
    for (colour, label) in items {
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="34" width="10" height="10" fill="{colour}"/><text x="{}" y="43">{label}</text>"#,
            x + 14.0
        );
        x += 24.0 + label.len() as f64 * 6.2;
    }
    for mark in marks {
        let (glyph, colour, _) = mark.glyph();
        let _ = write!(
            svg,
            r#"<text x="{x}" y="43" fill="{colour}">{glyph}</text><text x="{}" y="43">{}</text>"#,
            x + 12.0,
            mark.label()
        );
        x += 24.0 + mark.label().len() as f64 * 6.2;
    }
}

fn lifecycle_ticks(
    svg: &mut String,
    events: &[Arc<Event>],
    scale: &Scale,
    names: &Names,
    bottom: f64,
) {
    let mut row = 0;
    for e in events {
        if let EventKind::Lifecycle {
            mapping,
            action,
            pollers,
        } = &e.kind
        {
            let x = scale.x(e.at_ms);
            let label = esc(&names.localise(&format!("{mapping} {action} ({pollers})")));
            let y = 60.0 + f64::from(row % 3) * 10.0;
            row += 1;
            // Labels in the right fifth end at their tick, so none runs off the picture.
            let (label_x, anchor) = if x > WIDTH * 0.8 {
                (x - 2.0, "end")
            } else {
                (x + 2.0, "start")
            };
            let _ = write!(
                svg,
                r##"<line class="lifecycle" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#333" stroke-dasharray="2,3"/><text x="{label_x:.1}" y="{y}" font-size="10" text-anchor="{anchor}">{label}</text>"##,
                y + 2.0,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_lane(
    svg: &mut String,
    names: &Names,
    scale: &Scale,
    top: f64,
    topic: &str,
    partition: i32,
    lane: &LaneData,
    groups: &[String],
) {
    let span = (lane.high - lane.low + 1).max(1) as f64;
    let y =
        |offset: i64| top + LANE_HEIGHT - ((offset - lane.low) as f64 + 0.5) / span * LANE_HEIGHT;
    let (dots, dot_step) = sample(&lane.dots, MARKS_PER_LANE_MAX);
    let (bars, bar_step) = sample(&lane.bars, MARKS_PER_LANE_MAX);
    let sampled = if dot_step > 1 || bar_step > 1 {
        format!(" (sampled: 1 in {dot_step} records, 1 in {bar_step} invocations)")
    } else {
        String::new()
    };
    let _ = write!(
        svg,
        r##"<g class="lane"><rect x="{LEFT}" y="{top:.1}" width="{:.1}" height="{LANE_HEIGHT}" fill="none" stroke="#ccc"/><text x="10" y="{:.1}" font-weight="bold">{} / {partition}</text><text x="10" y="{:.1}">offset</text><text x="{LEFT}" y="{:.1}" fill="#666">{}</text>"##,
        WIDTH - LEFT - RIGHT,
        top + 14.0,
        esc(&names.localise(topic)),
        top + 28.0,
        top - 3.0,
        esc(&sampled)
    );
    // The offset axis: the lowest and highest offsets, and the middle one when there is room.
    let mut marks = vec![lane.low, lane.high];
    if lane.high - lane.low >= 4 {
        marks.push(lane.low + (lane.high - lane.low) / 2);
    }
    marks.dedup();
    for offset in marks {
        let at = y(offset);
        let _ = write!(
            svg,
            r##"<line class="offset-tick" x1="{:.1}" y1="{at:.1}" x2="{LEFT}" y2="{at:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{offset}</text>"##,
            LEFT - 4.0,
            LEFT - 6.0,
            at + 3.5,
        );
    }
    for bar in bars {
        let (x0, x1) = (scale.x(bar.start_ms), scale.x(bar.end_ms));
        let (y0, y1) = (y(bar.high) - 1.5, y(bar.low) + 1.5);
        let _ = write!(
            svg,
            r#"<rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.75"><title>{}</title></rect>"#,
            (x1 - x0).max(1.5),
            (y1 - y0).max(2.0),
            bar.colour,
            esc(&bar.label)
        );
        for mark in &bar.marks {
            let (glyph, colour, at_start) = mark.glyph();
            let x = if at_start { x0 } else { x1.max(x0 + 1.5) };
            let _ = write!(
                svg,
                r#"<text class="mark" x="{x:.1}" y="{:.1}" fill="{colour}" font-size="10" text-anchor="middle">{glyph}<title>{}</title></text>"#,
                y0 - 1.0,
                esc(&format!("{}: {}", mark.label(), bar.label))
            );
        }
    }
    for &&(t, offset) in &dots {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="#555"/>"##,
            scale.x(t),
            y(offset)
        );
    }
    for (group, commits) in &lane.commits {
        let colour = GROUP_COLOURS
            [groups.iter().position(|g| g == group).unwrap_or(0) % GROUP_COLOURS.len()];
        let (commits, _) = sample(commits, MARKS_PER_LANE_MAX);
        let clamp = |o: i64| y(o.clamp(lane.low, lane.high + 1));
        let mut points = String::new();
        let mut previous: Option<f64> = None;
        for &&(t, offset) in &commits {
            let x = scale.x(t);
            if let Some(py) = previous {
                let _ = write!(points, "{x:.1},{py:.1} ");
            }
            let _ = write!(points, "{x:.1},{:.1} ", clamp(offset));
            previous = Some(clamp(offset));
        }
        if let Some(py) = previous {
            let _ = write!(points, "{:.1},{py:.1}", WIDTH - RIGHT);
        }
        let _ = write!(
            svg,
            r#"<polyline class="commit" points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"><title>committed by {}</title></polyline>"#,
            esc(&names.localise(group))
        );
    }
    svg.push_str("</g>");
}

/// Copies the last [`LOG_BYTES_MAX`] bytes of a log.
fn copy_tail(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut file = std::fs::File::open(from)?;
    let len = file.metadata()?.len();
    let skip = len.saturating_sub(LOG_BYTES_MAX);
    file.seek(SeekFrom::Start(skip))?;
    let mut tail = Vec::new();
    file.take(LOG_BYTES_MAX).read_to_end(&mut tail)?;
    let mut out = Vec::new();
    if skip > 0 {
        out.extend_from_slice(format!("[first {skip} bytes left out]\n").as_bytes());
    }
    out.extend_from_slice(&tail);
    std::fs::write(to, out)
}

/// A plain file name for a log labelled "owner: file.log": the file's own name when it already
/// says whose it is ("broker: broker.log" is broker.log), else "owner-file.log"; a name
/// already taken gets "-2", "-3", … (the nodes of a cluster).
pub fn plain_log_name(label: &str, taken: &mut std::collections::BTreeSet<String>) -> String {
    let (owner, file) = label.split_once(": ").unwrap_or(("", label));
    let joined = if owner.is_empty() || file.starts_with(owner) {
        file.to_string()
    } else {
        format!("{owner}-{file}")
    };
    let clean: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let stem = clean.strip_suffix(".log").unwrap_or(&clean).to_string();
    let mut name = format!("{stem}.log");
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{stem}-{n}.log");
        n += 1;
    }
    name
}

/// Writes history.jsonl, timeline.svg, the logs (their last 5 MB) under logs/, and index.html.
pub fn write_artifacts(
    dir: &Path,
    title: &str,
    history: &History,
    names: &Names,
    logs: &[(String, PathBuf)],
    verdicts: &[Verdict],
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("logs"))?;
    history.write_jsonl(&dir.join("history.jsonl"))?;
    let svg = timeline_svg(&history.snapshot(), names, title);
    std::fs::write(dir.join("timeline.svg"), &svg)?;
    let mut log_links = String::new();
    let mut taken = std::collections::BTreeSet::new();
    for (name, path) in logs {
        let target = plain_log_name(name, &mut taken);
        let line = match copy_tail(path, &dir.join("logs").join(&target)) {
            Ok(()) => format!(
                r#"<li><a href="logs/{}">{}</a></li>"#,
                esc(&target),
                esc(name)
            ),
            Err(e) => format!(
                "<li>{}: could not copy {}: {}</li>",
                esc(name),
                esc(&path.display().to_string()),
                esc(&e.to_string())
            ),
        };
        log_links.push_str(&line);
    }
    let mut rows = String::new();
    for v in verdicts {
        let _ = write!(
            rows,
            r#"<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>"#,
            if v.ok { "ok" } else { "broken" },
            if v.ok { "holds" } else { "BROKEN" },
            v.checker,
            esc(&names.localise(&v.summary)),
            esc(&names.localise(&v.evidence.join("\n")))
        );
    }
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{t}</title><style>
body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}} td{{border:1px solid #ccc;padding:4px;vertical-align:top}}
tr.broken td:first-child{{color:#b00;font-weight:bold}} tr.ok td:first-child{{color:#2e7d32}} pre{{margin:0;white-space:pre-wrap}}
</style></head><body><h1>{t}</h1><h2>Verdicts</h2><table>{rows}</table>
<h2>Timeline</h2>{svg}<h2>Files</h2><ul><li><a href="history.jsonl">history.jsonl</a> (one event a line)</li><li><a href="timeline.svg">timeline.svg</a></li>{log_links}</ul></body></html>
"#,
        t = esc(&names.localise(title))
    );
    std::fs::write(dir.join("index.html"), html)?;
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{FaultKind, FaultTarget, RecordRef};

    fn small_history(names: &Names) -> History {
        let topic = names.real("orders");
        let history = History::new();
        for (partition, offset, at_ms) in [(0, 0, 1), (0, 1, 2), (1, 0, 3)] {
            history.record_at(
                at_ms,
                EventKind::Produced {
                    topic: topic.as_str().into(),
                    partition,
                    offset,
                    key: None,
                    value: Some("v".into()),
                    timestamp_ms: 0,
                },
            );
        }
        history.record_at(
            10,
            EventKind::Invocation(Box::new(InvocationEvent {
                function: "process".into(),
                id: 1,
                start_ms: 10,
                end_ms: 40,
                records: vec![RecordRef {
                    topic: topic.as_str().into(),
                    partition: 0,
                    offset: 0,
                    value: None,
                    headers: Vec::new(),
                }],
                outcome: InvocationOutcome::FunctionError,
                item_failures: Vec::new(),
                malformed: None,
                body: None,
            })),
        );
        history.record_at(
            50,
            EventKind::Commit {
                group: names.real("g"),
                topic: topic.clone(),
                partition: 0,
                offset: 2,
            },
        );
        let cut = Fault {
            id: 7,
            kind: FaultKind::NetworkCut,
            target: FaultTarget::Mapping("esm".into()),
            latency_ms: None,
        };
        history.record_at(
            20,
            EventKind::Fault {
                fault: cut.clone(),
                phase: FaultPhase::Began,
            },
        );
        history.record_at(
            30,
            EventKind::Fault {
                fault: cut,
                phase: FaultPhase::Ended,
            },
        );
        history.record_at(
            5,
            EventKind::Lifecycle {
                mapping: "esm".into(),
                action: crate::history::LifecycleAction::Started,
                pollers: 1,
            },
        );
        history
    }

    #[test]
    fn svg_has_a_lane_per_partition_and_fault_shading() {
        let names = Names::new("report-test");
        let history = small_history(&names);
        let svg = timeline_svg(&history.snapshot(), &names, "scenario <one>");
        assert_eq!(svg.matches(r#"<g class="lane">"#).count(), 2);
        assert!(
            svg.contains("orders / 0") && svg.contains("orders / 1"),
            "lanes use local names"
        );
        assert!(!svg.contains("report-test.orders"));
        assert_eq!(svg.matches(r#"class="fault""#).count(), 1);
        assert!(svg.contains("network cut esm"));
        assert!(svg.contains("#d62728"), "a function error bar");
        assert!(svg.contains(r#"class="commit""#));
        assert!(svg.contains("esm started (1)"));
        assert!(svg.contains("scenario &lt;one&gt;"));
    }

    #[test]
    fn environment_changes_mark_their_invocations() {
        let names = Names::new("report-test");
        let history = small_history(&names);
        for change in [
            EnvironmentChange::Ready { init_ms: 300 },
            EnvironmentChange::Invoked {
                invocation: 1,
                cold: true,
            },
            EnvironmentChange::TimedOut { invocation: 1 },
        ] {
            history.record_at(
                10,
                EventKind::Environment {
                    function: "process".into(),
                    environment: 1,
                    change,
                },
            );
        }
        let svg = timeline_svg(&history.snapshot(), &names, "marks");
        assert_eq!(svg.matches(r#"class="mark""#).count(), 2, "{svg}");
        assert!(svg.contains("<title>cold start: #1 FunctionError"));
        assert!(svg.contains("<title>timed out: #1 FunctionError"));
    }

    #[test]
    fn big_lanes_are_sampled() {
        let names = Names::new("s");
        let events: Vec<Arc<Event>> = (0..20_000)
            .map(|o| {
                Arc::new(Event {
                    at_ms: o as u64,
                    kind: EventKind::Produced {
                        topic: "t".into(),
                        partition: 0,
                        offset: o,
                        key: None,
                        value: None,
                        timestamp_ms: 0,
                    },
                })
            })
            .collect();
        let svg = timeline_svg(&events, &names, "big");
        assert!(svg.matches("<circle").count() <= MARKS_PER_LANE_MAX);
        assert!(svg.contains("1 in 4 records"));
    }

    #[test]
    fn write_artifacts_creates_the_files() {
        let names = Names::new("report-test");
        let history = small_history(&names);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("poller.log");
        std::fs::write(&log, "line one\nline two\n").unwrap();
        let out = dir.path().join("artifacts");
        let verdicts = [Verdict {
            checker: "lost",
            ok: false,
            summary: "1 of 3 lost".into(),
            evidence: vec!["partition 0 offset 1".into()],
        }];
        let written = write_artifacts(
            &out,
            "t",
            &history,
            &names,
            &[("esm: poller-esm-1.log".into(), log)],
            &verdicts,
        )
        .unwrap();
        assert_eq!(written, out);
        assert_eq!(
            History::read_jsonl(&out.join("history.jsonl"))
                .unwrap()
                .len(),
            history.len()
        );
        assert!(
            std::fs::read_to_string(out.join("timeline.svg"))
                .unwrap()
                .starts_with("<svg")
        );
        assert_eq!(
            std::fs::read_to_string(out.join("logs/esm-poller-esm-1.log")).unwrap(),
            "line one\nline two\n"
        );
        let index = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(index.contains("BROKEN") && index.contains("1 of 3 lost"));
        assert!(index.contains(r#"href="logs/esm-poller-esm-1.log""#) && index.contains("<svg"));
    }

    #[test]
    fn log_names_are_plain_and_unique() {
        let mut taken = std::collections::BTreeSet::new();
        assert_eq!(
            plain_log_name("broker: broker.log", &mut taken),
            "broker.log"
        );
        assert_eq!(
            plain_log_name("broker: broker.log", &mut taken),
            "broker-2.log"
        );
        assert_eq!(
            plain_log_name("esm: poller-x-1.log", &mut taken),
            "esm-poller-x-1.log"
        );
        assert_eq!(plain_log_name("a b", &mut taken), "a_b.log");
    }

    #[test]
    fn axes_read_as_numbers() {
        assert_eq!(tick_step_ms(64_000), 10_000);
        assert_eq!(tick_step_ms(900), 100);
        assert_eq!(tick_step_ms(3_600_000), 300_000);
        assert_eq!(tick_label(20_000, 10_000), "20 s");
        assert_eq!(tick_label(500, 100), "500 ms");
        assert_eq!(tick_label(1_500, 500), "1.5 s");
        assert_eq!(offsets_label(3, 7), "offsets 3 to 7");
        assert_eq!(offsets_label(3, 3), "offset 3");
        let names = Names::new("report-test");
        let svg = timeline_svg(&small_history(&names).snapshot(), &names, "t");
        assert!(!svg.contains("..="), "no Rust ranges in the picture");
        assert!(svg.contains(r#"class="tick""#) && svg.contains("0 ms"));
    }
}
