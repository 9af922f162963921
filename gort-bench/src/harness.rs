//! The alternating median runner and its statistics.
//!
//! For one workload, [`alternate`] runs one unrecorded warm-up round per
//! contender, then `rounds` measured rounds interleaved contender by
//! contender (gort, tokio, gort, tokio, ...), so that slow drift of the
//! machine (frequency scaling, a noisy neighbour) lands on every contender
//! alike. A contender's figure is the median of its rounds (the mean of the
//! two middle ones when the count is even), as in the Go twin; the timer
//! workloads' p99 lateness is taken from the median round alone (the lower
//! middle one when the count is even), not from all rounds pooled. Each
//! further figure of a round ([`RoundResult::extra`]: `http_hello`'s
//! requests/s and p99) is the median of that figure over the rounds: a p99
//! taken from the one round of median throughput swung by 2× between runs.
//!
//! [`child_round`] is the parent side of a round that runs in a fresh child
//! process (see `--child` in `cli.rs`).

use std::io;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What one measured round produces.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoundResult {
    /// ns per operation, or bytes per task for memory workloads.
    pub(crate) value: f64,
    /// Per-operation lateness in ns (`timers`, `timer_burst_hog`; empty
    /// otherwise).
    pub(crate) late: Vec<i64>,
    /// Further figures of the round, printed as `SYSTEM_NAME=VALUE`, each
    /// the median over the rounds (`http_hello`: `rps`, `p99_us`; empty
    /// otherwise).
    pub(crate) extra: Vec<(&'static str, f64)>,
}

impl RoundResult {
    pub(crate) fn ns_per_op(elapsed: Duration, ops: usize) -> RoundResult {
        RoundResult {
            value: elapsed.as_nanos() as f64 / ops as f64,
            late: Vec::new(),
            extra: Vec::new(),
        }
    }
}

/// One side of the comparison: a name and a way to run one round.
pub(crate) struct Contender<'a> {
    name: &'static str,
    round: Box<dyn FnMut() -> io::Result<RoundResult> + 'a>,
}

impl<'a> Contender<'a> {
    pub(crate) fn new(
        name: &'static str,
        round: impl FnMut() -> io::Result<RoundResult> + 'a,
    ) -> Contender<'a> {
        Contender {
            name,
            round: Box::new(round),
        }
    }
}

/// A contender's measured rounds, summarised.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) name: &'static str,
    /// The measured rounds' values, in the order they ran.
    pub(crate) values: Vec<f64>,
    pub(crate) median: f64,
    /// Nearest-rank p99 of the median round's lateness samples, if it has any.
    pub(crate) p99_late_ns: Option<i64>,
    /// Each [`RoundResult::extra`] figure's median over the rounds.
    pub(crate) extra: Vec<(&'static str, f64)>,
    /// Each [`RoundResult::extra`] figure's value in every round, in order.
    pub(crate) extra_rounds: Vec<(&'static str, Vec<f64>)>,
}

/// Runs a warm-up round per contender, then `rounds` measured rounds in
/// turn, and summarises each contender's rounds.
///
/// # Errors
///
/// The first error a round returns (a child process that failed).
pub(crate) fn alternate(
    rounds: usize,
    contenders: &mut [Contender<'_>],
) -> io::Result<Vec<Outcome>> {
    for c in contenders.iter_mut() {
        (c.round)()?;
    }
    let mut results: Vec<Vec<RoundResult>> = contenders
        .iter()
        .map(|_| Vec::with_capacity(rounds))
        .collect();
    for _ in 0..rounds {
        for (c, out) in contenders.iter_mut().zip(&mut results) {
            out.push((c.round)()?);
        }
    }
    Ok(contenders
        .iter()
        .zip(results)
        .map(|(c, rs)| summarise(c.name, rs))
        .collect())
}

fn summarise(name: &'static str, rounds: Vec<RoundResult>) -> Outcome {
    let values: Vec<f64> = rounds.iter().map(|r| r.value).collect();
    let median_round = &rounds[median_index(&values)];
    let p99_late_ns = (!median_round.late.is_empty()).then(|| percentile(&median_round.late, 0.99));
    let extra_rounds: Vec<(&'static str, Vec<f64>)> = median_round
        .extra
        .iter()
        .map(|&(key, _)| {
            let per_round = rounds
                .iter()
                .filter_map(|r| r.extra.iter().find(|(k, _)| *k == key).map(|&(_, v)| v))
                .collect();
            (key, per_round)
        })
        .collect();
    Outcome {
        name,
        median: median(&values),
        values,
        p99_late_ns,
        extra: extra_rounds
            .iter()
            .map(|(key, vs)| (*key, median(vs)))
            .collect(),
        extra_rounds,
    }
}

/// Runs one round of `workload` on `system` in a fresh child process (this
/// binary, re-executed with `--child`) and returns the value it prints.
///
/// # Errors
///
/// When the child cannot start, fails, or prints something other than a
/// number.
pub(crate) fn child_round(workload: &str, system: &str, procs: usize) -> io::Result<RoundResult> {
    let exe = std::env::current_exe()?;
    let output = Command::new(&exe)
        .args(["--procs", &procs.to_string(), "--child", workload, system])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "child `{workload} {system}` failed: {}",
            output.status
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = stdout.trim().parse::<f64>().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "child `{workload} {system}` printed {:?}, not a number",
                stdout.trim()
            ),
        )
    })?;
    Ok(RoundResult {
        value,
        late: Vec::new(),
        extra: Vec::new(),
    })
}

/// The median of `xs` (the mean of the two middle values when the count is
/// even). `xs` must not be empty.
pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Rounds of two contenders taken in turn, compared pair by pair: the
/// median of `a[i] / b[i]`, and in how many pairs `a` was lower. A
/// machine that changes speed mid-run moves both rounds of a pair alike,
/// where it can move one contender's median more than the other's (the
/// ratio of medians). `None` without a complete pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Paired {
    pub(crate) median_ratio: f64,
    pub(crate) lower: usize,
    pub(crate) pairs: usize,
}

pub(crate) fn paired(a: &[f64], b: &[f64]) -> Option<Paired> {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, &y)| y != 0.0)
        .map(|(&x, &y)| x / y)
        .collect();
    if ratios.is_empty() {
        return None;
    }
    Some(Paired {
        median_ratio: median(&ratios),
        lower: ratios.iter().filter(|&&r| r < 1.0).count(),
        pairs: ratios.len(),
    })
}

/// The index in `xs` of the median round: the lower of the two middle
/// rounds when the count is even; ties keep their original order.
fn median_index(xs: &[f64]) -> usize {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    idx[(idx.len() - 1) / 2]
}

/// The nearest-rank `p`-quantile of `xs` (0 if empty).
pub(crate) fn percentile(xs: &[i64], p: f64) -> i64 {
    if xs.is_empty() {
        return 0;
    }
    let mut s = xs.to_vec();
    s.sort_unstable();
    let rank = ((s.len() as f64 * p - 1e-9).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_compares_round_by_round() {
        // http_hello's ns per request in a run where the machine slowed
        // down after the second pair: the medians say gort 0.93x tokio,
        // the pairs 1.02x, gort ahead in 1 of 5.
        let gort = [5992.0, 6187.0, 6962.0, 7766.0, 7922.0];
        let tokio = [5937.0, 6086.0, 7517.0, 7514.0, 7528.0];
        assert!((median(&gort) / median(&tokio) - 0.926).abs() < 1e-3);
        let p = paired(&gort, &tokio).unwrap();
        assert!((p.median_ratio - 6187.0 / 6086.0).abs() < 1e-9);
        assert_eq!((p.lower, p.pairs), (1, 5));
        assert_eq!(paired(&[], &tokio), None);
    }

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn median_index_takes_lower_middle() {
        assert_eq!(median_index(&[30.0, 10.0, 20.0]), 2);
        assert_eq!(median_index(&[40.0, 10.0, 30.0, 20.0]), 3);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let xs: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&xs, 0.99), 99);
        assert_eq!(percentile(&xs, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.99), 0);
    }

    #[test]
    fn alternate_interleaves_after_warm_up() {
        let log = std::cell::RefCell::new(Vec::new());
        let mut cs = [
            Contender::new("a", || {
                log.borrow_mut().push("a");
                Ok(RoundResult {
                    value: 1.0,
                    late: vec![5],
                    extra: vec![("rps", 2.0)],
                })
            }),
            Contender::new("b", || {
                log.borrow_mut().push("b");
                Ok(RoundResult::default())
            }),
        ];
        let out = alternate(2, &mut cs).unwrap();
        drop(cs);
        assert_eq!(log.into_inner(), ["a", "b", "a", "b", "a", "b"]);
        assert_eq!(out[0].values, [1.0, 1.0]);
        assert_eq!(out[0].p99_late_ns, Some(5));
        assert_eq!(out[0].extra, [("rps", 2.0)]);
        assert_eq!(out[1].p99_late_ns, None);
        assert!(out[1].extra.is_empty());
    }
}
