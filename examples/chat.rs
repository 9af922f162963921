//! A chat server: every line a client sends goes to every other client.
//!
//! ```sh
//! cargo run --release --example chat                       # 127.0.0.1:7879, until ctrl-c
//! cargo run --release --example chat -- 127.0.0.1:9000 --for 60   # stop after 60 s
//! ```
//!
//! Then connect two or more clients, each with `nc 127.0.0.1 7879`, and
//! type: the others see `127.0.0.1:PORT: your line`.
//!
//! The shape is Go's classic chat server, built from gort's primitives
//! only:
//!
//! - a hub goroutine owns the member list; connections register, leave and
//!   post lines by sending [`Event`]s on one channel, so the list needs no
//!   lock;
//! - each connection has a reader (lines in, [`Event::Line`] out) and a
//!   writer that `select!`s over its outbound channel and its context's
//!   `done()`;
//! - everything hangs off one root context: when it is cancelled (after
//!   `--for SECS`, or never), the accept loop, the hub, and every reader
//!   and writer return, and `main` waits for them with a `WaitGroup`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;
use gort::context::{self, Context};
use gort::net::tcp::OwnedWriteHalf;
use gort::net::{TcpListener, TcpStream};
use gort::sync::{chan, Receiver, Sender, WaitGroup};

/// How many lines may queue for one slow client before it misses some.
const OUTBOX: usize = 64;

/// What connections tell the hub.
enum Event {
    /// A new member and the channel its writer reads.
    Join {
        peer: SocketAddr,
        out: Sender<Arc<str>>,
    },
    /// The member at `peer` left.
    Leave { peer: SocketAddr },
    /// `peer` said `text` (already formatted, newline included).
    Line { peer: SocketAddr, text: Arc<str> },
}

#[gort::main]
async fn main() -> io::Result<()> {
    let (addr, run_for) = parse_args()?;
    let root = context::background();
    let (ctx, _cancel) = match run_for {
        Some(d) => context::with_timeout(&root, d),
        None => context::with_cancel(&root),
    };

    let listener = TcpListener::bind(addr).await?;
    println!("chat: listening on {}", listener.local_addr()?);
    let wg = WaitGroup::new();
    let (events, inbox) = chan::<Event>(OUTBOX);
    wg.go(hub(ctx.clone(), inbox));
    loop {
        let (conn, peer) = gort::select! {
            r = listener.accept() => r?,
            _ = ctx.done() => break,
        };
        wg.go(member(ctx.clone(), conn, peer, events.clone()));
    }
    wg.wait().await;
    println!(
        "chat: {}; shut down",
        ctx.err().expect("the context is done")
    );
    Ok(())
}

/// `chat [ADDR] [--for SECS]`.
fn parse_args() -> io::Result<(String, Option<Duration>)> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let mut addr = "127.0.0.1:7879".to_string();
    let mut run_for = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--for" {
            let secs = args.next().ok_or_else(|| bad("--for needs SECS".into()))?;
            let secs: f64 = secs
                .parse()
                .map_err(|_| bad(format!("--for {secs}: not a number of seconds")))?;
            run_for = Some(Duration::from_secs_f64(secs));
        } else {
            addr = arg;
        }
    }
    Ok((addr, run_for))
}

/// The hub: the only owner of the member list. Forwards each line to every
/// member but its author, without blocking: a member whose outbox is full
/// misses the line rather than stalling the room.
async fn hub(ctx: Context, inbox: Receiver<Event>) {
    let mut members: Vec<(SocketAddr, Sender<Arc<str>>)> = Vec::new();
    loop {
        let event = gort::select! {
            Some(e) = inbox.recv() => e,
            _ = ctx.done() => break,
        };
        match event {
            Event::Join { peer, out } => {
                println!("chat: {peer} joined ({} here)", members.len() + 1);
                members.push((peer, out));
            }
            Event::Leave { peer } => {
                // Dropping its Sender closes the member's outbox.
                members.retain(|(p, _)| *p != peer);
                println!("chat: {peer} left ({} here)", members.len());
            }
            Event::Line { peer, text } => {
                for (p, out) in &members {
                    if *p != peer {
                        let _ = out.try_send(text.clone());
                    }
                }
            }
        }
    }
}

/// One connection: registers with the hub, runs the writer as its own
/// goroutine, and reads lines until the client leaves or `ctx` is done.
async fn member(ctx: Context, conn: TcpStream, peer: SocketAddr, events: Sender<Event>) {
    // A child context: the writer stops when this connection ends, too.
    let (ctx, cancel) = context::with_cancel(&ctx);
    let (out, outbox) = chan::<Arc<str>>(OUTBOX);
    if events.send(Event::Join { peer, out }).await.is_err() {
        return; // the hub has gone: shutting down
    }
    let (reader, writer) = conn.into_split();
    let writing = gort::spawn(write_loop(ctx.clone(), writer, outbox));

    let mut lines = BufReader::new(reader).lines();
    loop {
        let line = gort::select! {
            l = lines.next() => l,
            _ = ctx.done() => None,
        };
        let Some(Ok(line)) = line else { break }; // EOF, an error, or cancelled
        let text: Arc<str> = format!("{peer}: {line}\n").into();
        if events.send(Event::Line { peer, text }).await.is_err() {
            break;
        }
    }
    let _ = events.send(Event::Leave { peer }).await;
    cancel.cancel();
    let _ = writing.await;
}

/// Writes each line from `outbox` to the client until the outbox closes
/// (the hub dropped this member) or `ctx` is done.
async fn write_loop(ctx: Context, mut writer: OwnedWriteHalf, outbox: Receiver<Arc<str>>) {
    loop {
        gort::select! {
            msg = outbox.recv() => match msg {
                Some(text) => {
                    if writer.write_all(text.as_bytes()).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = ctx.done() => break,
        }
    }
    let _ = writer.close().await;
}
