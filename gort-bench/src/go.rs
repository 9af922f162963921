//! The Go twin (`bench/go`): built once per run, then run once per
//! workload with the same `-procs` and `-rounds`, its `go=` fields appended
//! to our line.
//!
//! Everything here degrades to `go=NA`: no `go` on `PATH`, a failed build,
//! a failed run or an unreadable line is reported on stderr and the run
//! goes on.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// Why the Go twin has no figures for a workload.
#[derive(Debug)]
pub(crate) enum GoError {
    /// `go` is not on `PATH`.
    NotInstalled,
    /// A process could not be started, or the scratch folder not made.
    Io(io::Error),
    /// `go build` or the twin exited unsuccessfully.
    Failed {
        step: &'static str,
        status: ExitStatus,
        stderr: String,
    },
    /// The twin printed no line for the workload, or one without `go=`.
    BadOutput(String),
}

impl fmt::Display for GoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoError::NotInstalled => f.write_str("`go` is not on PATH"),
            GoError::Io(e) => write!(f, "{e}"),
            GoError::Failed {
                step,
                status,
                stderr,
            } => {
                write!(f, "{step} failed ({status})")?;
                if !stderr.is_empty() {
                    write!(f, ":\n{stderr}")?;
                }
                Ok(())
            }
            GoError::BadOutput(out) => write!(f, "unexpected output {out:?}"),
        }
    }
}

impl From<io::Error> for GoError {
    fn from(e: io::Error) -> GoError {
        GoError::Io(e)
    }
}

/// A `key=value` field of the twin's line.
pub(crate) type Field = (String, String);

/// The built twin. Dropping it removes the binary.
#[derive(Debug)]
pub(crate) struct GoTwin {
    /// `bench/go`, the working directory of every run.
    src: PathBuf,
    /// A scratch folder of our own holding the binary.
    scratch: PathBuf,
    exe: PathBuf,
}

impl GoTwin {
    /// Builds the twin with `go build` into a scratch folder.
    ///
    /// # Errors
    ///
    /// When `go` is missing or the build fails.
    pub(crate) fn build() -> Result<GoTwin, GoError> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("bench")
            .join("go");
        let scratch = std::env::temp_dir().join(format!("gort-bench-go-{}", std::process::id()));
        fs::create_dir_all(&scratch)?;
        // From here on, dropping `twin` cleans up, on error too.
        let twin = GoTwin {
            exe: scratch.join("gortbench"),
            src,
            scratch,
        };
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&twin.exe)
            .arg(".")
            .current_dir(&twin.src)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    GoError::NotInstalled
                } else {
                    e.into()
                }
            })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(GoError::Failed {
                step: "go build",
                status: out.status,
                stderr,
            });
        }
        Ok(twin)
    }

    /// Runs `workload` with `procs` and `rounds` and returns its `go*`
    /// fields (`go=`, and `go_p99_late_ns=` for the timer workloads that
    /// record lateness), in order. The
    /// twin's progress goes straight to our stderr.
    ///
    /// # Errors
    ///
    /// When the twin fails or prints no usable line.
    pub(crate) fn run(
        &self,
        workload: &str,
        procs: usize,
        rounds: usize,
    ) -> Result<Vec<Field>, GoError> {
        let out = Command::new(&self.exe)
            .args([
                "-procs",
                &procs.to_string(),
                "-rounds",
                &rounds.to_string(),
                workload,
            ])
            .current_dir(&self.src)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        if !out.status.success() {
            return Err(GoError::Failed {
                step: "the Go twin",
                status: out.status,
                stderr: String::new(),
            });
        }
        parse_line(&String::from_utf8_lossy(&out.stdout), workload)
    }
}

impl Drop for GoTwin {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.scratch);
    }
}

/// The `go*` fields of the line `workload=NAME procs=N go=X ...` in
/// `stdout`.
fn parse_line(stdout: &str, workload: &str) -> Result<Vec<Field>, GoError> {
    let prefix = format!("workload={workload} ");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .ok_or_else(|| GoError::BadOutput(stdout.to_string()))?;
    let fields: Vec<Field> = line
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .filter(|(k, _)| *k == "go" || k.starts_with("go_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !fields
        .iter()
        .any(|(k, v)| k == "go" && v.parse::<f64>().is_ok())
    {
        return Err(GoError::BadOutput(line.to_string()));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_go_fields() {
        let out = "workload=timers procs=2 go=612 go_p99_late_ns=1234567\n";
        let fields = parse_line(out, "timers").unwrap();
        assert_eq!(
            fields,
            [
                ("go".to_string(), "612".to_string()),
                ("go_p99_late_ns".to_string(), "1234567".to_string())
            ]
        );
    }

    #[test]
    fn rejects_a_line_without_go() {
        assert!(parse_line("workload=timers procs=2\n", "timers").is_err());
        assert!(parse_line("workload=ping_pong procs=2 go=5\n", "timers").is_err());
    }
}
