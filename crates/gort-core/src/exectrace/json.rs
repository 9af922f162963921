//! The trace's output: Chrome Trace Event JSON (the "JSON Object Format"
//! of the Trace Event Format document), which Perfetto and
//! chrome://tracing open.
//!
//! The shape is small and fixed, so it is written by hand: the only text
//! that needs escaping is a task's or a thread's name ([`escape`]); numbers
//! are integers, or microseconds with three decimals. The integration test
//! `tests/exectrace.rs` parses the output back with serde_json.
//!
//! ```text
//! {"traceEvents":[
//!   {"name":"task 7","ph":"X","ts":12.345,"dur":1.200,"pid":1,"tid":0,"args":{"task":7}},
//!   {"name":"task 7","ph":"X",...,"pid":2,"tid":1,...},        the same poll on P 1's track
//!   {"name":"spawn","ph":"i","s":"t","ts":...,"pid":1,"tid":0,"args":{"task":8,"parent":7}},
//!   ...
//!   {"name":"thread_name","ph":"M","pid":1,"tid":0,"args":{"name":"M0"}}, ...
//! ],"displayTimeUnit":"ns","otherData":{"dropped_events":0,"events":N}}
//! ```

use std::fmt::Write as _;

use super::ring::{Ev, Record};

/// Process ids of the two groups of tracks.
pub(crate) const PID_M: u32 = 1;
pub(crate) const PID_P: u32 = 2;

/// `s` as the inside of a JSON string.
pub(crate) fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Nanoseconds as the microseconds Chrome's `ts` and `dur` are in.
fn micros(out: &mut String, ns: u64) {
    let _ = write!(out, "{}.{:03}", ns / 1000, ns % 1000);
}

/// Appends `rec`'s JSON events (one, or two for a poll: the M's track and
/// the P's), each followed by a comma. `ts` is relative to the trace's
/// start; `tid` is the recording thread's track; `name` the poll's task
/// name, if known.
pub(crate) fn event(out: &mut String, rec: &Record, ts: u64, tid: u64, name: Option<&str>) {
    let instant = |out: &mut String, what: &str, args: &str| {
        let _ = write!(
            out,
            "{{\"name\":\"{what}\",\"ph\":\"i\",\"s\":\"t\",\"ts\":"
        );
        micros(out, ts);
        let _ = write!(out, ",\"pid\":{PID_M},\"tid\":{tid},\"args\":{{{args}}}}},");
    };
    match &rec.ev {
        Ev::Poll { task, p, dur } => {
            for (pid, tid) in [(PID_M, tid), (PID_P, u64::from(*p))] {
                let _ = write!(out, "{{\"name\":\"task {task}");
                if let Some(n) = name {
                    out.push(' ');
                    escape(out, n);
                }
                out.push_str("\",\"ph\":\"X\",\"ts\":");
                micros(out, ts);
                out.push_str(",\"dur\":");
                micros(out, *dur);
                let _ = write!(
                    out,
                    ",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"task\":{task},\"p\":{p}}}}},"
                );
            }
        }
        Ev::Spawn { task, parent } => instant(
            out,
            "spawn",
            &format!("\"task\":{task},\"parent\":{parent}"),
        ),
        Ev::Wake { task, by: 0 } => instant(out, "wake", &format!("\"task\":{task}")),
        Ev::Wake { task, by } => instant(out, "wake", &format!("\"task\":{task},\"by\":{by}")),
        Ev::Steal { from, to, task } => instant(
            out,
            "steal",
            &format!("\"task\":{task},\"from_p\":{from},\"p\":{to}"),
        ),
        Ev::Park { task, reason } => {
            let mut r = String::new();
            escape(&mut r, reason);
            instant(out, "park", &format!("\"task\":{task},\"reason\":\"{r}\""))
        }
        Ev::MPark => instant(out, "m park", ""),
        Ev::MUnpark => instant(out, "m unpark", ""),
        Ev::Handoff { p } => instant(out, "handoff", &format!("\"p\":{p}")),
        Ev::Retake { p, syscall } => {
            let from = if *syscall { "syscall" } else { "long poll" };
            instant(out, "retake", &format!("\"p\":{p},\"from\":\"{from}\""))
        }
        Ev::Netpoll { n } => instant(out, "netpoll", &format!("\"n\":{n}")),
        Ev::TimerFired => instant(out, "timer fired", ""),
        // Names label poll slices; they are no event of their own.
        Ev::Name { .. } => {}
    }
}

/// A `thread_name` metadata event naming track `(pid, tid)`, followed by a
/// comma.
pub(crate) fn thread_name(out: &mut String, pid: u32, tid: u64, name: &str) {
    let _ = write!(
        out,
        "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":\""
    );
    escape(out, name);
    out.push_str("\"}},");
}

/// A `process_name` metadata event, followed by a comma.
pub(crate) fn process_name(out: &mut String, pid: u32, name: &str) {
    let _ = write!(
        out,
        "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"args\":{{\"name\":\"{name}\"}}}},"
    );
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        let mut s = String::new();
        escape(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "a\\\"b\\\\c\\nd\\u0001é");
    }

    #[test]
    fn micros_have_three_decimals() {
        let mut s = String::new();
        micros(&mut s, 1_234_005);
        assert_eq!(s, "1234.005");
    }
}
