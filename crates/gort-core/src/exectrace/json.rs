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

/// Appends `n` in decimal, without the formatting machinery (`write!`
/// costs several times more per number, and an event has up to a dozen).
fn num(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("ASCII digits"));
}

/// Nanoseconds as the microseconds Chrome's `ts` and `dur` are in.
fn micros(out: &mut String, ns: u64) {
    num(out, ns / 1000);
    let frac = ns % 1000;
    out.push('.');
    out.push(char::from(b'0' + (frac / 100) as u8));
    out.push(char::from(b'0' + (frac / 10 % 10) as u8));
    out.push(char::from(b'0' + (frac % 10) as u8));
}

/// `"key":n` with a leading comma unless first.
fn arg(out: &mut String, first: bool, key: &str, n: u64) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    num(out, n);
}

/// Appends `rec`'s JSON events (one, or two for a poll: the M's track and
/// the P's), each followed by a comma. `ts` is relative to the trace's
/// start; `tid` is the recording thread's track; `name` the poll's task
/// name, if known.
pub(crate) fn event(out: &mut String, rec: &Record, ts: u64, tid: u64, name: Option<&str>) {
    let instant = |out: &mut String, what: &str| {
        out.push_str("{\"name\":\"");
        out.push_str(what);
        out.push_str("\",\"ph\":\"i\",\"s\":\"t\",\"ts\":");
        micros(out, ts);
        out.push_str(",\"pid\":");
        num(out, u64::from(PID_M));
        out.push_str(",\"tid\":");
        num(out, tid);
        out.push_str(",\"args\":{");
    };
    let close = |out: &mut String| out.push_str("}},");
    match &rec.ev {
        Ev::Poll { task, p, dur } => {
            for (pid, tid) in [(PID_M, tid), (PID_P, u64::from(*p))] {
                out.push_str("{\"name\":\"task ");
                num(out, *task);
                if let Some(n) = name {
                    out.push(' ');
                    escape(out, n);
                }
                out.push_str("\",\"ph\":\"X\",\"ts\":");
                micros(out, ts);
                out.push_str(",\"dur\":");
                micros(out, *dur);
                out.push_str(",\"pid\":");
                num(out, u64::from(pid));
                out.push_str(",\"tid\":");
                num(out, tid);
                out.push_str(",\"args\":{");
                arg(out, true, "task", *task);
                arg(out, false, "p", u64::from(*p));
                close(out);
            }
        }
        Ev::Spawn { task, parent } => {
            instant(out, "spawn");
            arg(out, true, "task", *task);
            arg(out, false, "parent", *parent);
            close(out);
        }
        Ev::Wake { task, by } => {
            instant(out, "wake");
            arg(out, true, "task", *task);
            if *by != 0 {
                arg(out, false, "by", *by);
            }
            close(out);
        }
        Ev::Steal { from, to, task } => {
            instant(out, "steal");
            arg(out, true, "task", *task);
            arg(out, false, "from_p", u64::from(*from));
            arg(out, false, "p", u64::from(*to));
            close(out);
        }
        Ev::Park { task, reason } => {
            instant(out, "park");
            arg(out, true, "task", *task);
            out.push_str(",\"reason\":\"");
            escape(out, reason);
            out.push('"');
            close(out);
        }
        Ev::MPark => {
            instant(out, "m park");
            close(out);
        }
        Ev::MUnpark => {
            instant(out, "m unpark");
            close(out);
        }
        Ev::Handoff { p } => {
            instant(out, "handoff");
            arg(out, true, "p", u64::from(*p));
            close(out);
        }
        Ev::Retake { p, syscall } => {
            instant(out, "retake");
            arg(out, true, "p", u64::from(*p));
            out.push_str(if *syscall {
                ",\"from\":\"syscall\""
            } else {
                ",\"from\":\"long poll\""
            });
            close(out);
        }
        Ev::Netpoll { n } => {
            instant(out, "netpoll");
            arg(out, true, "n", u64::from(*n));
            close(out);
        }
        Ev::TimerFired => {
            instant(out, "timer fired");
            close(out);
        }
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
    fn numbers_and_micros() {
        let mut s = String::new();
        micros(&mut s, 1_234_005);
        s.push(' ');
        micros(&mut s, 7);
        s.push(' ');
        num(&mut s, 0);
        s.push(' ');
        num(&mut s, u64::MAX);
        assert_eq!(s, "1234.005 0.007 0 18446744073709551615");
    }
}
