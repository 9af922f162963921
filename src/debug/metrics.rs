//! [`Metrics`] in Prometheus's text exposition format (version 0.0.4), the
//! `/debug/gort/metrics` page.
//!
//! Each field is one metric family named `gort_<field>`, preceded by its
//! `# HELP` and `# TYPE` lines: gauges (threads, queue lengths, live tasks)
//! as they are, counters (steals, polls, parks, ...) with Prometheus's
//! `_total` suffix, each P's local queue as one sample of
//! `gort_local_queue_len{p="N"}`. The scheduling-latency histogram becomes
//! `gort_sched_latencies_seconds`, a Prometheus histogram with cumulative
//! `le` buckets at the power-of-two edges. gort counts no sum of the
//! latencies, so `_sum` is estimated from each bucket's lower edge, as
//! client_golang's Go collector does for Go's `/sched/latencies:seconds`
//! (an underestimate, said in the HELP line).

use std::fmt::Write as _;

use crate::runtime::Metrics;

/// The `Content-Type` of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `m` as Prometheus text.
pub(crate) fn render(m: &Metrics) -> String {
    let mut out = String::new();
    let gauges: [(&str, &str, usize); 7] = [
        (
            "threads",
            "Ms started (worker threads), parked or not.",
            m.threads,
        ),
        ("idle_threads", "Ms parked with no P.", m.idle_threads),
        (
            "spinning_threads",
            "Ms holding a P and looking for work.",
            m.spinning_threads,
        ),
        ("idle_procs", "Ps on the idle list.", m.idle_procs),
        (
            "global_queue_len",
            "Tasks in the global run queue.",
            m.global_queue_len,
        ),
        (
            "blocking_threads",
            "Live threads of the spawn_blocking pool.",
            m.blocking_threads,
        ),
        ("tasks", "Live spawned tasks.", m.tasks),
    ];
    for (name, help, v) in gauges {
        family(&mut out, &format!("gort_{name}"), help, "gauge");
        let _ = writeln!(out, "gort_{name} {v}");
    }
    family(
        &mut out,
        "gort_local_queue_len",
        "Tasks in each P's local run queue, runnext included.",
        "gauge",
    );
    for (p, len) in m.local_queue_lens.iter().enumerate() {
        let _ = writeln!(out, "gort_local_queue_len{{p=\"{p}\"}} {len}");
    }
    let counters: [(&str, &str, u64); 9] = [
        (
            "steals",
            "Successful steals (each moves a batch of tasks).",
            m.steals,
        ),
        (
            "handoffs",
            "Ps handed from an M blocked in gort::syscall to another M.",
            m.handoffs,
        ),
        (
            "sysmon_retakes",
            "Ps retaken by sysmon from a long syscall or a long poll.",
            m.sysmon_retakes,
        ),
        ("polls", "Polls of tasks, all Ps together.", m.polls),
        (
            "runnext_hits",
            "Polls of a task taken from runnext.",
            m.runnext_hits,
        ),
        ("parks", "Times an M parked.", m.parks),
        ("unparks", "Times a parked M was handed a P.", m.unparks),
        (
            "netpoll_spins",
            "Times an M found work by a non-blocking netpoll and did not block.",
            m.netpoll_spins,
        ),
        (
            "timer_rescues",
            "Rounds in which sysmon called an M for an overdue timer.",
            m.timer_rescues,
        ),
    ];
    for (name, help, v) in counters {
        family(&mut out, &format!("gort_{name}_total"), help, "counter");
        let _ = writeln!(out, "gort_{name}_total {v}");
    }
    histogram(&mut out, m);
    out
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, m: &Metrics) {
    let name = "gort_sched_latencies_seconds";
    family(
        out,
        name,
        "How long tasks waited, runnable, before an M polled them (sampled); \
         _sum is estimated from the buckets' lower edges.",
        "histogram",
    );
    let h = &m.sched_latencies;
    let (mut cumulative, mut sum) = (0u64, 0f64);
    for (i, &c) in h.counts.iter().enumerate() {
        cumulative += c;
        let (lower, upper) = h.bucket_bounds(i);
        sum += c as f64 * lower.as_secs_f64();
        // The open last bucket is the `+Inf` one, written below.
        if let Some(u) = upper {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                u.as_secs_f64()
            );
        }
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {cumulative}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_help_type_and_samples() {
        let mut m = Metrics::default();
        m.local_queue_lens = vec![3, 0];
        m.steals = 4;
        m.sched_latencies.counts = vec![0, 2, 1];
        let text = render(&m);
        assert!(text.contains("gort_local_queue_len{p=\"0\"} 3\n"));
        assert!(text.contains("gort_local_queue_len{p=\"1\"} 0\n"));
        assert!(text.contains("# TYPE gort_steals_total counter\ngort_steals_total 4\n"));
        assert!(text.contains("gort_sched_latencies_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("gort_sched_latencies_seconds_bucket{le=\"0.000000004\"} 2\n"));
        assert!(text.contains("gort_sched_latencies_seconds_count 3\n"));
        // 2 samples at >= 2 ns, 1 at >= 4 ns (the open last bucket).
        assert!(text.contains("gort_sched_latencies_seconds_sum 0.000000008\n"));
    }
}
