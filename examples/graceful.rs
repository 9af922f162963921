//! A TCP echo server that shuts down gracefully: on SIGINT (ctrl-c) or
//! SIGTERM it stops accepting, gives the open connections up to 5 s to
//! finish, aborts those still open, and returns; the runtime then shuts
//! down with a deadline of its own.
//!
//! ```sh
//! cargo run --example graceful                    # listens on 127.0.0.1:7879
//! cargo run --example graceful -- 127.0.0.1:9000  # or on another address
//! ```
//!
//! In another terminal, `nc 127.0.0.1 7879`: every line you type comes
//! back. Press ctrl-c in the server's terminal (or `kill -TERM <pid>`): the
//! server stops accepting and says how many connections it is draining;
//! the open `nc` still echoes. Close it (ctrl-d) and the server exits at
//! once, or leave it open and the server aborts it after 5 s. A second
//! ctrl-c during the drain kills the server, as in Go.
//!
//! The pieces, Go's names first:
//!
//! 1. `signal.NotifyContext` → [`gort::signal::notify_context`]: a context
//!    done at the first SIGINT or SIGTERM;
//! 2. the accept loop ends when that context is done (a `select!` on
//!    `accept` and `ctx.done()`); each connection is a task of a
//!    [`JoinSet`], so the server owns them all;
//! 3. `ln.Close()`: drop the listener; `stop()`: a second signal kills;
//! 4. `srv.Shutdown(ctx with a 5 s timeout)`: wait for the set, and past
//!    the deadline `set.shutdown()` aborts what is left;
//! 5. [`gort::Runtime::shutdown_timeout`]: whatever task or blocking job
//!    is still alive is cancelled, and the threads get 1 s to stop.
//!
//! `docs/guide/graceful-shutdown.md` walks through this file step by step,
//! beside the Go program it mirrors; `tests/graceful_example.rs` runs it in a
//! child process and sends it SIGTERM.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use gort::context;
use gort::net::{TcpListener, TcpStream};
use gort::signal::{self, Signal};
use gort::task::{JoinError, JoinSet};

/// How long the open connections get to finish once a signal came.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);
/// How long the runtime's threads get to stop after `serve` returned.
const RUNTIME_DEADLINE: Duration = Duration::from_secs(1);

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7879".to_string());
    run(&addr)
}

/// Builds a runtime, serves on `addr` until SIGINT or SIGTERM, drains the
/// connections, and shuts the runtime down. The runtime is built by hand,
/// not by `#[gort::main]`, to end it with `shutdown_timeout`.
pub fn run(addr: &str) -> io::Result<()> {
    let rt = gort::Runtime::new()?;
    let served = rt.block_on(serve(addr));
    // Cancels every task still alive (none, once the set is drained or
    // shut down) and waits up to 1 s for the runtime's threads, blocking
    // jobs included: a job stuck in a blocking call cannot hold the
    // process past that.
    rt.shutdown_timeout(RUNTIME_DEADLINE);
    served
}

/// The server: accepts until a signal, then drains.
async fn serve(addr: &str) -> io::Result<()> {
    // Step 1: subscribe before binding, so that a signal from the moment
    // the server can be reached starts the shutdown instead of killing it.
    let (ctx, stop) = signal::notify_context(
        &context::background(),
        &[Signal::Interrupt, Signal::Terminate],
    )?;
    let listener = TcpListener::bind(addr).await?;
    println!("graceful: listening on {}", listener.local_addr()?);

    // Step 2: accept until the context is done; every connection is a task
    // of the set.
    let mut conns = JoinSet::new();
    let mut failed = None;
    loop {
        let accepted = gort::select! {
            r = listener.accept() => r,
            _ = ctx.done() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                conns.spawn(async move { (peer, echo(stream).await) });
            }
            Err(e) => {
                // Not EMFILE (accept retries that itself): the listener is
                // broken. Drain what is open, then report it.
                failed = Some(e);
                break;
            }
        }
        // Reap the connections that ended, so the set holds open ones only.
        while let Some(ended) = conns.try_join_next() {
            report(ended);
        }
    }

    // Step 3: stop accepting (new connections are refused from here on),
    // and end the subscription: a second signal gets its default action.
    drop(listener);
    stop.cancel();
    println!(
        "graceful: shutting down, draining {} connection(s)",
        conns.len()
    );

    // Step 4: wait for the open connections, up to the deadline; then abort
    // the rest and wait for them to be dropped.
    let drain = async {
        while let Some(ended) = conns.join_next().await {
            report(ended);
        }
    };
    let drained = gort::time::timeout(DRAIN_DEADLINE, drain).await.is_ok();
    if !drained {
        println!(
            "graceful: {} connection(s) still open after {DRAIN_DEADLINE:?}, aborting",
            conns.len()
        );
        conns.shutdown().await;
    }
    println!("graceful: done");
    failed.map_or(Ok(()), Err)
}

/// One connection: everything it sends comes back, until it closes its
/// side. Returns the byte count.
async fn echo(mut conn: TcpStream) -> io::Result<u64> {
    let (mut reader, mut writer) = conn.split();
    futures::io::copy(&mut reader, &mut writer).await
}

/// Prints how a connection ended.
fn report(ended: Result<(SocketAddr, io::Result<u64>), JoinError>) {
    match ended {
        Ok((peer, Ok(n))) => println!("graceful: {peer} closed after {n} bytes"),
        Ok((peer, Err(e))) => println!("graceful: {peer}: {e}"),
        Err(e) if e.is_cancelled() => println!("graceful: a connection was aborted"),
        Err(e) => println!("graceful: a connection's task panicked: {e}"),
    }
}
