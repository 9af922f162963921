//! Command-line parsing.
//!
//! ```text
//! gort-bench [--procs N] [--rounds R] [--svg PATH] [workload ...]
//! gort-bench --procs N --child WORKLOAD SYSTEM      (hidden; used by the harness)
//! gort-bench soak --secs N [--procs P] [--every S] [--csv PATH] [--svg PATH]
//! ```

use std::fmt;

use crate::system::{Gort, Smol, System, Tokio};
use crate::workloads::{self, Workload};

const DEFAULT_PROCS: usize = 2;
const DEFAULT_ROUNDS: usize = 7;

/// What to do.
#[derive(Debug)]
pub(crate) enum Command {
    Help,
    Bench(Options),
    /// `soak ...` (the first argument): the soak run of `soak.rs`.
    Soak(crate::soak::Options),
    /// Run one round of `workload` on `system` in this process and print
    /// its value: the child side of `Isolation::ChildPerRound`.
    Child {
        procs: usize,
        workload: &'static Workload,
        system: &'static str,
    },
}

#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) procs: usize,
    pub(crate) rounds: usize,
    /// In the order given; every workload when none were named.
    pub(crate) workloads: Vec<&'static Workload>,
    /// `--svg PATH`: where to write the run's bar chart (`chart.rs`).
    pub(crate) svg: Option<std::path::PathBuf>,
}

/// A command line that does not parse; the message says why.
#[derive(Debug)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The usage text, listing the workloads.
pub(crate) fn usage() -> String {
    let names: Vec<&str> = workloads::ALL.iter().map(|w| w.name).collect();
    format!(
        "usage: gort-bench [--procs N] [--rounds R] [--svg PATH] [workload ...]\n\
         \x20 --procs N   worker threads / Ps / GOMAXPROCS for every system (default {DEFAULT_PROCS})\n\
         \x20 --rounds R  measured rounds per workload after one warm-up round (default {DEFAULT_ROUNDS}; timers: at most 3)\n\
         \x20 --svg PATH  also write a bar chart of the run (each system's time over the best peer's) to PATH\n\
         \x20 workloads:  {} (default: all)\n\
         \x20 or:         {}",
        names.join(" "),
        crate::soak::USAGE
    )
}

/// Parses the arguments after the program name.
///
/// # Errors
///
/// An unknown flag or workload, a missing or non-positive number.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let mut procs = DEFAULT_PROCS;
    let mut rounds = DEFAULT_ROUNDS;
    let mut workloads = Vec::new();
    let mut child = None;
    let mut svg = None;
    let mut first = true;
    while let Some(arg) = args.next() {
        if std::mem::take(&mut first) && arg == "soak" {
            return crate::soak::parse(args)
                .map(Command::Soak)
                .map_err(UsageError);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--procs" => procs = positive(&flag, inline.or_else(|| args.next()))?,
            "--rounds" => rounds = positive(&flag, inline.or_else(|| args.next()))?,
            "--svg" => {
                let path = inline
                    .or_else(|| args.next())
                    .ok_or_else(|| UsageError("--svg needs a path".into()))?;
                svg = Some(std::path::PathBuf::from(path));
            }
            "--child" => {
                let (Some(name), Some(system)) = (args.next(), args.next()) else {
                    return Err(UsageError("--child needs a workload and a system".into()));
                };
                let system = [Gort::NAME, Tokio::NAME, Smol::NAME]
                    .into_iter()
                    .find(|s| *s == system)
                    .ok_or_else(|| {
                        UsageError(format!("unknown system {system:?} (gort, tokio or smol)"))
                    })?;
                child = Some((workload(&name)?, system));
            }
            f if f.starts_with('-') => return Err(UsageError(format!("unknown flag {f:?}"))),
            _ => workloads.push(workload(&arg)?),
        }
    }
    if let Some((workload, system)) = child {
        return Ok(Command::Child {
            procs,
            workload,
            system,
        });
    }
    if workloads.is_empty() {
        workloads = workloads::ALL.iter().collect();
    }
    Ok(Command::Bench(Options {
        procs,
        rounds,
        workloads,
        svg,
    }))
}

fn workload(name: &str) -> Result<&'static Workload, UsageError> {
    workloads::find(name).ok_or_else(|| UsageError(format!("unknown workload {name:?}")))
}

fn positive(flag: &str, value: Option<String>) -> Result<usize, UsageError> {
    let value = value.ok_or_else(|| UsageError(format!("{flag} needs a number")))?;
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(UsageError(format!(
            "{flag} must be a positive integer, got {value:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_run_everything() {
        let Command::Bench(o) = parse(args("")).unwrap() else {
            panic!("not a bench")
        };
        assert_eq!(
            (o.procs, o.rounds, o.workloads.len()),
            (2, 7, workloads::ALL.len())
        );
    }

    #[test]
    fn flags_and_workloads() {
        let Command::Bench(o) = parse(args("--procs 4 --rounds=3 timers ping_pong")).unwrap()
        else {
            panic!("not a bench")
        };
        let names: Vec<_> = o.workloads.iter().map(|w| w.name).collect();
        assert_eq!(
            (o.procs, o.rounds, names),
            (4, 3, vec!["timers", "ping_pong"])
        );
        assert!(o.svg.is_none());
    }

    #[test]
    fn svg_path() {
        for line in [
            "--svg docs/bench.svg ping_pong",
            "--svg=docs/bench.svg ping_pong",
        ] {
            let Command::Bench(o) = parse(args(line)).unwrap() else {
                panic!("not a bench")
            };
            assert_eq!(
                o.svg.as_deref(),
                Some(std::path::Path::new("docs/bench.svg"))
            );
            assert_eq!(o.workloads.len(), 1);
        }
        assert!(parse(args("--svg")).is_err());
    }

    #[test]
    fn child_mode() {
        let Command::Child {
            procs,
            workload,
            system,
        } = parse(args("--procs 3 --child idle_task_bytes tokio")).unwrap()
        else {
            panic!("not a child")
        };
        assert_eq!(
            (procs, workload.name, system),
            (3, "idle_task_bytes", "tokio")
        );
    }

    #[test]
    fn errors() {
        assert!(parse(args("--procs 0")).is_err());
        assert!(parse(args("--rounds")).is_err());
        assert!(parse(args("no_such_workload")).is_err());
        assert!(parse(args("--child timers rayon")).is_err());
        assert!(parse(args("--child timers smol")).is_ok());
        assert!(parse(args("--frobnicate")).is_err());
    }
}
