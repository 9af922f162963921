//! The timeline: an execution trace (`runtime::trace`'s Chrome Trace Event
//! JSON) drawn by gort as an inline SVG, the `/debug/gort/trace/view` page
//! and [`timeline_html`](super::timeline_html).
//!
//! # Reading the trace back
//!
//! The JSON is parsed with serde_json into a [`Timeline`]: the Ms (pid 1's
//! tracks below [`THREAD_TID_BASE`], named by their `thread_name` events,
//! plus any M that polled and was not named), every poll slice on an M's
//! track (`ph: "X"`, pid 1; the same poll on its P's track, pid 2, is not
//! drawn twice), and per task its `park` and `wake` instants. Each slice is
//! then told what came around it, as tokio-console users ask ("how long
//! did it wait to be polled, who woke it"):
//!
//! - the wait before it: from the task's last `wake` since its previous
//!   slice ended, to this slice's start (and who woke it, `args.by`);
//! - what followed: the `park` recorded inside the poll (its wait reason,
//!   in the dump's words), else "woken or yielded" if the task runs again
//!   in the trace, else "finished, or runnable when the trace ended".
//!
//! # Drawing
//!
//! One lane per M, time left to right over the trace's span; a slice is a
//! `<rect class="slice">` at least half a pixel wide, coloured by task id
//! (the golden angle around the hue circle, so neighbouring ids differ),
//! with a `<title>` child that the browser shows on hover: task id and
//! name, M and P, start and length, the wait before it and what followed.
//! At most [`MAX_SLICES`] slices are drawn (the first ones); the page says
//! when more were left out. Under the SVG a table ranks the tasks by time
//! on an M (which task is hogging a worker). The page needs no script: SVG
//! titles give the hover text.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use super::pages::{escape, page};
use crate::runtime::trace::THREAD_TID_BASE;

/// The most slices one page draws.
pub(crate) const MAX_SLICES: usize = 20_000;

const PID_M: u64 = 1;
const LABEL_W: f64 = 90.0;
const PLOT_W: f64 = 1100.0;
const LANE_H: f64 = 26.0;
const LANE_GAP: f64 = 6.0;
const AXIS_H: f64 = 22.0;

/// One poll of a task on an M.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slice {
    pub(crate) m: u64,
    pub(crate) p: Option<u64>,
    pub(crate) task: u64,
    /// Start and length, microseconds since the trace's start.
    pub(crate) ts: f64,
    pub(crate) dur: f64,
}

/// A trace, read back.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    /// Each M's track id and name.
    pub(crate) ms: BTreeMap<u64, String>,
    /// The poll slices on the Ms' tracks, by start.
    pub(crate) slices: Vec<Slice>,
    /// Task names, from the slices' names (`task 7 worker`).
    names: HashMap<u64, String>,
    /// Each task's `park` instants: (time, wait reason), by time.
    parks: HashMap<u64, Vec<(f64, String)>>,
    /// Each task's `wake` instants: (time, waker's task id), by time.
    wakes: HashMap<u64, Vec<(f64, Option<u64>)>>,
    events: u64,
    dropped: u64,
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn uint(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

fn arg(v: &Value, key: &str) -> Option<u64> {
    v.get("args").and_then(|a| uint(a, key))
}

impl Timeline {
    /// Reads `json`, a trace written by `runtime::trace`.
    pub(crate) fn parse(json: &str) -> serde_json::Result<Timeline> {
        let root: Value = serde_json::from_str(json)?;
        let mut t = Timeline::default();
        let empty = Vec::new();
        let events = root
            .get("traceEvents")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for e in events {
            let (Some(ph), Some(name)) = (
                e.get("ph").and_then(Value::as_str),
                e.get("name").and_then(Value::as_str),
            ) else {
                continue;
            };
            let pid = uint(e, "pid");
            let tid = uint(e, "tid");
            let ts = num(e, "ts").unwrap_or(0.0);
            match (ph, name, pid, tid) {
                ("M", "thread_name", Some(PID_M), Some(tid)) if tid < THREAD_TID_BASE => {
                    let n = e
                        .get("args")
                        .and_then(|a| a.get("name"))
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("M{tid}"), str::to_string);
                    t.ms.insert(tid, n);
                }
                ("X", _, Some(PID_M), Some(m)) => {
                    let Some(task) = arg(e, "task") else { continue };
                    if let Some(n) = name
                        .strip_prefix(&format!("task {task}"))
                        .and_then(|r| r.strip_prefix(' '))
                    {
                        t.names.entry(task).or_insert_with(|| n.to_string());
                    }
                    t.slices.push(Slice {
                        m,
                        p: arg(e, "p"),
                        task,
                        ts,
                        dur: num(e, "dur").unwrap_or(0.0),
                    });
                }
                ("i", "park", _, _) => {
                    if let Some(task) = arg(e, "task") {
                        let reason = e
                            .get("args")
                            .and_then(|a| a.get("reason"))
                            .and_then(Value::as_str)
                            .unwrap_or("waiting");
                        t.parks
                            .entry(task)
                            .or_default()
                            .push((ts, reason.to_string()));
                    }
                }
                ("i", "wake", _, _) => {
                    if let Some(task) = arg(e, "task") {
                        t.wakes.entry(task).or_default().push((ts, arg(e, "by")));
                    }
                }
                _ => {}
            }
        }
        for s in &t.slices {
            if s.m < THREAD_TID_BASE {
                t.ms.entry(s.m).or_insert_with(|| format!("M{}", s.m));
            }
        }
        let by_time = |a: &f64, b: &f64| a.total_cmp(b);
        t.slices.sort_by(|a, b| by_time(&a.ts, &b.ts));
        for v in t.parks.values_mut() {
            v.sort_by(|a, b| by_time(&a.0, &b.0));
        }
        for v in t.wakes.values_mut() {
            v.sort_by(|a, b| by_time(&a.0, &b.0));
        }
        if let Some(other) = root.get("otherData") {
            t.events = uint(other, "events").unwrap_or(0);
            t.dropped = uint(other, "dropped_events").unwrap_or(0);
        }
        Ok(t)
    }

    /// The span drawn: the first slice's start to the last one's end.
    fn span(&self) -> (f64, f64) {
        let t0 = self.slices.first().map_or(0.0, |s| s.ts);
        let t1 = self.slices.iter().map(|s| s.ts + s.dur).fold(t0, f64::max);
        (t0, if t1 > t0 { t1 } else { t0 + 1.0 })
    }
}

/// What came around one slice.
struct Context {
    /// The wait before it (µs) and who woke the task.
    waited: Option<(f64, Option<u64>)>,
    after: String,
}

/// The contexts of every slice of `t`, in `t.slices`' order.
fn contexts(t: &Timeline) -> Vec<Context> {
    // Each task's slices, in order, to find its previous and next one.
    let mut by_task: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, s) in t.slices.iter().enumerate() {
        by_task.entry(s.task).or_default().push(i);
    }
    let mut out: Vec<Option<Context>> = (0..t.slices.len()).map(|_| None).collect();
    for (task, idx) in &by_task {
        let parks = t.parks.get(task).map_or(&[][..], Vec::as_slice);
        let wakes = t.wakes.get(task).map_or(&[][..], Vec::as_slice);
        for (k, &i) in idx.iter().enumerate() {
            let s = &t.slices[i];
            let prev_end = k.checked_sub(1).map_or(f64::NEG_INFINITY, |j| {
                let p = &t.slices[idx[j]];
                p.ts + p.dur
            });
            // The trace's µs have three decimals: allow for the rounding.
            let end = s.ts + s.dur + 0.001;
            let waited = wakes
                .iter()
                .rev()
                .find(|(w, _)| *w <= s.ts && *w >= prev_end)
                .map(|(w, by)| (s.ts - w, *by));
            let after = match parks.iter().find(|(p, _)| *p >= s.ts - 0.001 && *p <= end) {
                Some((_, reason)) => format!("parked: {reason}"),
                None if k + 1 < idx.len() => "woken or yielded: runnable again".to_string(),
                None => "finished, or runnable when the trace ended".to_string(),
            };
            out[i] = Some(Context { waited, after });
        }
    }
    out.into_iter()
        .map(|c| c.expect("every slice has a task"))
        .collect()
}

/// A duration in µs, in the unit that reads best.
fn human(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.3} s", us / 1_000_000.0)
    } else if us >= 1_000.0 {
        format!("{:.3} ms", us / 1_000.0)
    } else {
        format!("{us:.3} µs")
    }
}

/// The fill of task `id`'s slices.
fn colour(id: u64) -> String {
    let hue = (id as f64 * 137.508) % 360.0;
    format!("hsl({hue:.0},65%,55%)")
}

/// The SVG of `t`: one lane per M, its slices, a time axis.
pub(crate) fn svg(t: &Timeline) -> String {
    let (t0, t1) = t.span();
    let scale = PLOT_W / (t1 - t0);
    let lanes: BTreeMap<u64, usize> = t.ms.keys().enumerate().map(|(i, &m)| (m, i)).collect();
    let height = AXIS_H + lanes.len() as f64 * (LANE_H + LANE_GAP);
    // Room on the right for the last tick's label.
    let width = LABEL_W + PLOT_W + 50.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" data-ms=\"{}\" \
         font-family=\"sans-serif\" font-size=\"11\">",
        lanes.len()
    );
    // The axis: ten ticks over the span.
    for k in 0..=10 {
        let x = LABEL_W + PLOT_W * f64::from(k) / 10.0;
        let at = (t1 - t0) * f64::from(k) / 10.0;
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{AXIS_H}\" x2=\"{x:.1}\" y2=\"{height}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"14\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            escape(&human(at))
        );
    }
    let ctx = contexts(t);
    // Each lane's slices, in a `<g>` of its own.
    let mut per_lane: Vec<Vec<usize>> = vec![Vec::new(); lanes.len()];
    for (i, s) in t.slices.iter().enumerate().take(MAX_SLICES) {
        if let Some(&l) = lanes.get(&s.m) {
            per_lane[l].push(i);
        }
    }
    for (&m, &l) in &lanes {
        let y = AXIS_H + l as f64 * (LANE_H + LANE_GAP);
        let _ = writeln!(
            out,
            "<g class=\"lane\" data-m=\"{m}\">\
             <rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{PLOT_W}\" height=\"{LANE_H}\" fill=\"#f4f4f4\"/>\
             <text class=\"lane-label\" x=\"4\" y=\"{:.1}\">{}</text>",
            y + LANE_H / 2.0 + 4.0,
            escape(&t.ms[&m])
        );
        for &i in &per_lane[l] {
            let s = &t.slices[i];
            let c = &ctx[i];
            let x = LABEL_W + (s.ts - t0) * scale;
            let w = (s.dur * scale).max(0.5);
            let mut title = format!("task {}", s.task);
            if let Some(n) = t.names.get(&s.task) {
                let _ = write!(title, " {n}");
            }
            let _ = write!(title, "\n{}", t.ms[&m]);
            if let Some(p) = s.p {
                let _ = write!(title, ", P{p}");
            }
            let _ = write!(title, "\nstart {}, ran {}", human(s.ts - t0), human(s.dur));
            if let Some((w, by)) = c.waited {
                let _ = write!(title, "\nwaited {} to run", human(w));
                if let Some(by) = by {
                    let _ = write!(title, " (woken by task {by})");
                }
            }
            let _ = write!(title, "\nthen {}", c.after);
            let _ = writeln!(
                out,
                "<rect class=\"slice\" data-task=\"{}\" x=\"{x:.2}\" y=\"{:.1}\" width=\"{w:.2}\" \
                 height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
                s.task,
                y + 2.0,
                LANE_H - 4.0,
                colour(s.task),
                escape(&title)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

/// The `trace/view` page of `t`, a trace of about `seconds`.
pub(crate) fn html(t: &Timeline, seconds: Option<f64>) -> String {
    let (t0, t1) = t.span();
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>gort execution trace</h1>\n<p>{}{} Ms, {} polls drawn over {} \
         ({} events recorded, {} dropped). Hover a slice for its task, its wait \
         before it and what followed. <a href=\"/debug/gort/\">index</a></p>\n",
        seconds.map_or(String::new(), |s| format!("A trace of {s} s: ")),
        t.ms.len(),
        t.slices.len().min(MAX_SLICES),
        escape(&human(t1 - t0)),
        t.events,
        t.dropped
    );
    if t.slices.len() > MAX_SLICES {
        let _ = writeln!(
            body,
            "<p class=\"warn\">{} slices left out: only the first {MAX_SLICES} are drawn; \
             take a shorter trace.</p>",
            t.slices.len() - MAX_SLICES
        );
    }
    body.push_str(&svg(t));
    body.push_str(&busiest(t, t1 - t0));
    page("gort trace", None, &body)
}

/// The tasks ranked by time on an M.
fn busiest(t: &Timeline, span: f64) -> String {
    #[derive(Default)]
    struct Row {
        polls: u64,
        busy: f64,
        longest: f64,
        waits: u64,
        waited: f64,
        max_wait: f64,
    }
    let ctx = contexts(t);
    let mut rows: HashMap<u64, Row> = HashMap::new();
    for (s, c) in t.slices.iter().zip(&ctx) {
        let r = rows.entry(s.task).or_default();
        r.polls += 1;
        r.busy += s.dur;
        r.longest = r.longest.max(s.dur);
        if let Some((w, _)) = c.waited {
            r.waits += 1;
            r.waited += w;
            r.max_wait = r.max_wait.max(w);
        }
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_by(|a, b| b.1.busy.total_cmp(&a.1.busy).then(a.0.cmp(&b.0)));
    let mut out = String::from(
        "<h2>Busiest tasks</h2>\n<table id=\"busiest\"><tr><th>task</th><th>name</th>\
         <th>polls</th><th>time on an M</th><th>share of the trace</th><th>longest poll</th>\
         <th>mean wait to run</th><th>longest wait</th></tr>\n",
    );
    for (id, r) in rows.iter().take(50) {
        let mean = if r.waits > 0 {
            human(r.waited / r.waits as f64)
        } else {
            "-".to_string()
        };
        let _ = writeln!(
            out,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{id}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            colour(*id),
            escape(t.names.get(id).map_or("", String::as_str)),
            r.polls,
            human(r.busy),
            100.0 * r.busy / span,
            human(r.longest),
            mean,
            if r.waits > 0 { human(r.max_wait) } else { "-".to_string() },
        );
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"{"traceEvents":[
        {"name":"wake","ph":"i","s":"t","ts":1.000,"pid":1,"tid":0,"args":{"task":7,"by":3}},
        {"name":"task 7 worker","ph":"X","ts":5.000,"dur":10.000,"pid":1,"tid":0,"args":{"task":7,"p":1}},
        {"name":"task 7 worker","ph":"X","ts":5.000,"dur":10.000,"pid":2,"tid":1,"args":{"task":7,"p":1}},
        {"name":"park","ph":"i","s":"t","ts":14.000,"pid":1,"tid":0,"args":{"task":7,"reason":"chan receive"}},
        {"name":"task 8","ph":"X","ts":20.000,"dur":80.000,"pid":1,"tid":2,"args":{"task":8,"p":0}},
        {"name":"thread_name","ph":"M","pid":1,"tid":0,"args":{"name":"M0"}},
        {"name":"thread_name","ph":"M","pid":1,"tid":2,"args":{"name":"M2"}},
        {"name":"thread_name","ph":"M","pid":1,"tid":1000000,"args":{"name":"main"}},
        {"name":"thread_name","ph":"M","pid":2,"tid":1,"args":{"name":"P1"}}
    ],"displayTimeUnit":"ns","otherData":{"producer":"gort","events":5,"dropped_events":0}}"#;

    #[test]
    fn reads_ms_slices_and_contexts() {
        let t = Timeline::parse(TRACE).unwrap();
        assert_eq!(t.ms.keys().copied().collect::<Vec<_>>(), [0, 2]);
        assert_eq!(t.slices.len(), 2, "the P track's copy is not drawn twice");
        assert_eq!(t.names[&7], "worker");
        let c = contexts(&t);
        assert_eq!(c[0].waited, Some((4.0, Some(3))));
        assert_eq!(c[0].after, "parked: chan receive");
        assert_eq!(c[1].waited, None);
        assert!(c[1].after.starts_with("finished"));
    }

    #[test]
    fn draws_one_lane_per_m_and_every_slice() {
        let t = Timeline::parse(TRACE).unwrap();
        let svg = svg(&t);
        assert_eq!(svg.matches("<g class=\"lane\"").count(), 2);
        assert_eq!(svg.matches("<rect class=\"slice\"").count(), 2);
        assert!(svg.contains("data-ms=\"2\""));
        assert!(svg.contains("<title>task 7 worker\nM0, P1\n"));
        assert!(svg.contains("waited 4.000 µs to run (woken by task 3)"));
        let page = html(&t, Some(1.0));
        assert!(page.contains("<table id=\"busiest\">"));
        assert!(!page.contains("<script"));
    }

    #[test]
    fn a_bad_trace_is_an_error() {
        assert!(Timeline::parse("{\"traceEvents\":[").is_err());
    }
}
