//! The `graceful` example, run as a process and stopped with SIGTERM.
//!
//! As `tests/http_example.rs` does for `examples/http`, the example's code
//! is compiled into this test (`#[path]`), so no `cargo run` is needed: each
//! test runs this test binary again as a child (`GORT_GRACEFUL_CHILD` set,
//! only that test selected), where it calls the example's `run`, which is
//! all its `main` does. The parent talks to the child over loopback with
//! blocking std sockets, reads what it prints, signals it with `kill`, and
//! checks its exit status. Every wait is bounded by a generous watchdog;
//! the order of events, not their timing, is what is checked.

#![cfg(unix)]

#[allow(dead_code)] // its `main` is not called here
#[path = "../examples/graceful.rs"]
mod graceful;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHILD: &str = "GORT_GRACEFUL_CHILD";
/// The bound on every wait for the child.
const WATCHDOG: Duration = Duration::from_secs(30);

/// The child's side of every test: the example's server, on an ephemeral
/// port (the parent reads it from the "listening on" line).
fn child_server() {
    graceful::run("127.0.0.1:0").expect("the server failed");
}

/// A running child and the lines it prints.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: String,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
}

impl Server {
    /// Runs `test` of this binary in a child and waits until it listens.
    fn start(test: &str) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            addr: String::new(),
            seen: Vec::new(),
        };
        let line = server.wait_for("graceful: listening on ");
        server.addr = line["graceful: listening on ".len()..].to_string();
        server
    }

    /// The next line the child prints that starts with `prefix`.
    fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    // The test harness prints `test NAME ... ` first, on
                    // the same line as the child's first output.
                    if let Some(at) = line.find(prefix) {
                        return line[at..].to_string();
                    }
                }
                Err(e) => panic!("no line {prefix:?} ({e}); printed: {:?}", self.seen),
            }
        }
    }

    fn connect(&self) -> TcpStream {
        let conn = TcpStream::connect(&self.addr).unwrap();
        conn.set_read_timeout(Some(WATCHDOG)).unwrap();
        conn
    }

    /// Sends SIGTERM, as `kill` (or a service manager) would.
    fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a valid signal number; no memory is involved.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the child to exit; the rest of what it printed.
    fn exit(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + WATCHDOG;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("the server did not exit; printed: {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reader thread ends at the child's EOF: collect everything.
        let rest: Vec<String> = self.lines.iter().collect();
        self.seen.extend(rest);
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Server {
    /// A failed test must not leave its server running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Writes `msg` and reads it back.
fn round_trip(conn: &mut TcpStream, msg: &[u8]) {
    conn.write_all(msg).unwrap();
    let mut back = vec![0; msg.len()];
    conn.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
}

/// SIGTERM with a connection open: the server stops accepting at once, the
/// open connection is still served, and once its client closes it the
/// process exits 0 without waiting for the deadline.
#[test]
fn sigterm_drains_open_connections_then_exits_0() {
    if std::env::var_os(CHILD).is_some() {
        return child_server();
    }
    let mut server = Server::start("sigterm_drains_open_connections_then_exits_0");
    let mut conn = server.connect();
    round_trip(&mut conn, b"before\n"); // accepted and served

    server.terminate();
    server.wait_for("graceful: shutting down, draining 1 connection(s)");
    // The listener was dropped before that line was printed.
    let refused = TcpStream::connect(&server.addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    round_trip(&mut conn, b"during\n"); // the drain serves it on

    conn.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());

    let (status, printed) = server.exit();
    assert!(status.success(), "exit: {status}; printed: {printed:?}");
    assert!(
        printed.iter().any(|l| l.ends_with("closed after 14 bytes")),
        "printed: {printed:?}"
    );
    assert!(
        printed.iter().any(|l| l.ends_with("graceful: done")),
        "{printed:?}"
    );
    assert!(
        !printed.iter().any(|l| l.contains("aborting")),
        "{printed:?}"
    );
}

/// SIGTERM with a connection that never closes: past the deadline the
/// server aborts it (its client reads EOF) and the process still exits 0.
#[test]
fn a_connection_open_past_the_deadline_is_aborted() {
    if std::env::var_os(CHILD).is_some() {
        return child_server();
    }
    let mut server = Server::start("a_connection_open_past_the_deadline_is_aborted");
    let mut conn = server.connect();
    round_trip(&mut conn, b"hello\n");

    server.terminate();
    server.wait_for("graceful: shutting down, draining 1 connection(s)");
    server.wait_for("graceful: 1 connection(s) still open after 5s, aborting");
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap(); // the aborted task dropped its socket
    assert!(rest.is_empty());

    let (status, printed) = server.exit();
    assert!(status.success(), "exit: {status}; printed: {printed:?}");
    assert!(
        printed.iter().any(|l| l.ends_with("graceful: done")),
        "{printed:?}"
    );
}
