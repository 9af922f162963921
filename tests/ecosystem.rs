//! Third-party futures crates run on gort unchanged.
//!
//! Each test drives a crate written for no runtime in particular through
//! gort's scheduler and checks the outcome exactly:
//!
//! - `futures-timer`: a `Delay` is woken from the crate's own timer thread;
//! - `async-io`: a `Timer` is woken from async-io's reactor thread;
//! - `futures::channel`: a `oneshot` and a bounded `mpsc` are completed
//!   from a plain std thread, 10 000 wake-ups for the `mpsc`;
//! - `async-channel` and `async-lock`: event-listener wakers passed between
//!   64 gort tasks;
//! - `async-tungstenite`: a websocket echo over `gort::net::TcpStream`
//!   through the `futures::io` traits;
//! - `async-compression`: gzip through the `futures::io` adapters, both ways
//!   over a gort TCP connection.
//!
//! In the first four a gort task sleeps on a waker that only a thread gort
//! does not own will call. The contract ("Drop-in soundness") says such a
//! task is not asleep forever, so the deadlock detector must not fire; each
//! of them therefore runs three ways (a module per scenario):
//!
//! - `gort_test`: `#[gort::test]` (default procs, detector on);
//! - `builder_procs2_detect_deadlock`: `Builder::new().procs(2)
//!   .detect_deadlock(true)` and `block_on`;
//! - `detector_off`: the same with the detector off, the control: a
//!   failure here is the crate on gort, not the detector.
//!
//! Every test is bounded, so a hang is a failure with a message, not a
//! stuck CI job: `#[gort::test]`s by their `timeout = "30s"`, the builder
//! variants by [`run_bounded`], which runs the runtime on a thread of its
//! own and waits for it with a deadline.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use futures::{SinkExt, StreamExt};
use gort::net::{TcpListener, TcpStream};
use gort::Builder;

/// How long a test may run before the watchdog fails it.
const WATCHDOG: Duration = Duration::from_secs(30);

/// The sleep the timer and foreign-thread scenarios wait through.
const DELAY: Duration = Duration::from_millis(300);

/// Builds the runtime `builder` makes on a thread of its own, runs `body()`
/// on it with `block_on`, drops the runtime and returns the body's output.
///
/// The test thread waits at most [`WATCHDOG`]: past it the test panics with
/// a message naming the test (the runtime's thread is left behind; the test
/// binary's exit ends it). A panic in the body, or the deadlock detector's,
/// is re-raised here with its own payload, so the test fails with it.
fn run_bounded<B, F>(
    name: &str,
    builder: impl FnOnce() -> Builder + Send + 'static,
    body: B,
) -> F::Output
where
    B: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    let (tx, rx) = std_mpsc::channel();
    let runner = thread::Builder::new()
        .name(format!("ecosystem-{name}"))
        .spawn(move || {
            let out = {
                let rt = builder().build().expect("build the runtime");
                rt.block_on(body())
            };
            // After the runtime's drop, so that its shutdown is bounded too.
            let _ = tx.send(out);
        })
        .expect("spawn the runtime's thread");
    match rx.recv_timeout(WATCHDOG) {
        Ok(out) => {
            runner
                .join()
                .expect("the runtime's thread exits after sending");
            out
        }
        Err(std_mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: timed out after {WATCHDOG:?}: the runtime hung")
        }
        Err(std_mpsc::RecvTimeoutError::Disconnected) => match runner.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("{name}: the runtime's thread exited without a result"),
        },
    }
}

/// Two Ps with the deadlock detector on.
fn procs2_detector_builder() -> Builder {
    Builder::new().procs(2).detect_deadlock(true)
}

/// Two Ps, the detector off: the control.
fn procs2_builder() -> Builder {
    Builder::new().procs(2).detect_deadlock(false)
}

/// A module of three tests running `scenario`: under `#[gort::test]`
/// (detector on), on two Ps with the detector on through the builder, and
/// on two Ps with it off.
macro_rules! three_ways {
    ($module:ident, $scenario:path) => {
        mod $module {
            #[gort::test(timeout = "30s")]
            async fn gort_test() {
                $scenario().await
            }

            #[test]
            fn builder_procs2_detect_deadlock() {
                super::run_bounded(
                    concat!(stringify!($module), "::builder_procs2_detect_deadlock"),
                    super::procs2_detector_builder,
                    $scenario,
                );
            }

            #[test]
            fn detector_off() {
                super::run_bounded(
                    concat!(stringify!($module), "::detector_off"),
                    super::procs2_builder,
                    $scenario,
                );
            }
        }
    };
}

// ---------------------------------------------------------------------------
// 1. futures-timer: woken from the crate's global timer thread.

/// One `futures_timer::Delay` awaited in the block_on future.
async fn futures_timer_delay() {
    let start = Instant::now();
    futures_timer::Delay::new(DELAY).await;
    let waited = start.elapsed();
    assert!(
        waited >= DELAY,
        "Delay ended after {waited:?}, before {DELAY:?}"
    );
}
three_ways!(futures_timer_one_delay, super::futures_timer_delay);

/// Eight gort tasks each awaiting a Delay, joined in order.
async fn futures_timer_delays_joined() {
    const TASKS: u64 = 8;
    let start = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            gort::spawn(async move {
                futures_timer::Delay::new(DELAY).await;
                (i, Instant::now())
            })
        })
        .collect();
    let mut sum = 0;
    for (i, h) in (0..TASKS).zip(handles) {
        let (got, woke) = h.await.expect("the Delay task does not panic");
        assert_eq!(got, i);
        assert!(
            woke - start >= DELAY,
            "task {i} woke after {:?}",
            woke - start
        );
        sum += got;
    }
    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
}
three_ways!(
    futures_timer_many_delays,
    super::futures_timer_delays_joined
);

// ---------------------------------------------------------------------------
// 2. async-io: woken from async-io's reactor ("async-io" thread).

/// `async_io::Timer::after` awaited in the block_on future, and in a task.
async fn async_io_timer() {
    let start = Instant::now();
    let fired = async_io::Timer::after(DELAY).await;
    assert!(fired >= start + DELAY, "Timer fired {:?} in", fired - start);

    let start = Instant::now();
    let fired = gort::spawn(async_io::Timer::after(DELAY))
        .await
        .expect("the Timer task does not panic");
    assert!(
        fired >= start + DELAY,
        "Timer in a task fired {:?} in",
        fired - start
    );
}
three_ways!(async_io_timer_after, super::async_io_timer);

// ---------------------------------------------------------------------------
// 3. A std thread completes a futures oneshot after sleeping.

/// The block_on future awaits a oneshot that a std thread completes 300 ms
/// later; a gort task does the same with a second one.
async fn std_thread_oneshot() {
    let (tx, rx) = oneshot::channel::<u64>();
    let (task_tx, task_rx) = oneshot::channel::<&'static str>();
    let sender = thread::spawn(move || {
        thread::sleep(DELAY);
        tx.send(42).expect("the receiver is waiting");
        thread::sleep(DELAY);
        task_tx
            .send("from a std thread")
            .expect("the task is waiting");
    });
    let task = gort::spawn(task_rx);
    assert_eq!(rx.await, Ok(42));
    assert_eq!(
        task.await.expect("the receiving task does not panic"),
        Ok("from a std thread")
    );
    sender.join().expect("the sending thread does not panic");
}
three_ways!(std_thread_oneshot_send, super::std_thread_oneshot);

// ---------------------------------------------------------------------------
// 4. A std thread wakes a gort task 10 000 times through a bounded mpsc.

/// A std thread sends 0..10 000 on a `futures::channel::mpsc` with one
/// slot, blocking on each send with `futures::executor::block_on`, so the
/// gort task and the thread wake each other all the way through; the task
/// checks every value arrives once, in order.
async fn std_thread_mpsc() {
    const ITEMS: u64 = 10_000;
    let (mut tx, mut rx) = mpsc::channel::<u64>(0);
    let sender = thread::spawn(move || {
        for i in 0..ITEMS {
            futures::executor::block_on(tx.send(i)).expect("the receiver is alive");
        }
    });
    let receiver = gort::spawn(async move {
        let (mut next, mut sum) = (0u64, 0u64);
        while let Some(v) = rx.next().await {
            assert_eq!(v, next, "out of order");
            next += 1;
            sum += v;
        }
        (next, sum)
    });
    let (count, sum) = receiver.await.expect("the receiving task does not panic");
    assert_eq!(count, ITEMS);
    assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    sender.join().expect("the sending thread does not panic");
}
three_ways!(std_thread_mpsc_10000, super::std_thread_mpsc);

// ---------------------------------------------------------------------------
// 5. async-channel and async-lock across 64 gort tasks.

/// 64 workers meet at an `async_lock::Barrier`, then drain 6 400 jobs from
/// an `async_channel::bounded(16)`: each job passes a `Semaphore` of 4
/// permits (in-flight count checked), adds to a `Mutex` sum and marks
/// itself in a `RwLock`ed table; workers report their counts on an
/// unbounded async-channel.
async fn channel_and_locks() {
    const WORKERS: usize = 64;
    const JOBS: u64 = 6_400;
    const PERMITS: usize = 4;

    let (job_tx, job_rx) = async_channel::bounded::<u64>(16);
    let (done_tx, done_rx) = async_channel::unbounded::<(usize, u64)>();
    let barrier = Arc::new(async_lock::Barrier::new(WORKERS + 1));
    let leaders = Arc::new(AtomicUsize::new(0));
    let permits = Arc::new(async_lock::Semaphore::new(PERMITS));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(async_lock::Mutex::new(0u64));
    let seen = Arc::new(async_lock::RwLock::new(vec![false; JOBS as usize]));

    for w in 0..WORKERS {
        let job_rx = job_rx.clone();
        let done_tx = done_tx.clone();
        let barrier = barrier.clone();
        let leaders = leaders.clone();
        let permits = permits.clone();
        let in_flight = in_flight.clone();
        let max_in_flight = max_in_flight.clone();
        let sum = sum.clone();
        let seen = seen.clone();
        gort::spawn(async move {
            if barrier.wait().await.is_leader() {
                leaders.fetch_add(1, Ordering::Relaxed);
            }
            let mut done = 0u64;
            while let Ok(job) = job_rx.recv().await {
                {
                    let _permit = permits.acquire().await;
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_flight.fetch_max(now, Ordering::SeqCst);
                    gort::yield_now().await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                }
                *sum.lock().await += job;
                let already = seen.read().await[job as usize];
                assert!(!already, "job {job} delivered twice");
                seen.write().await[job as usize] = true;
                done += 1;
            }
            done_tx
                .send((w, done))
                .await
                .expect("the collector is alive");
        });
    }
    drop((job_rx, done_tx));

    if barrier.wait().await.is_leader() {
        leaders.fetch_add(1, Ordering::Relaxed);
    }
    for job in 0..JOBS {
        job_tx.send(job).await.expect("the workers are alive");
    }
    drop(job_tx);

    let mut reported = [false; WORKERS];
    let mut total = 0;
    while let Ok((w, done)) = done_rx.recv().await {
        assert!(!reported[w], "worker {w} reported twice");
        reported[w] = true;
        total += done;
    }
    assert!(reported.iter().all(|&r| r), "every worker reports");
    assert_eq!(total, JOBS);
    assert_eq!(leaders.load(Ordering::Relaxed), 1, "one barrier leader");
    assert_eq!(*sum.lock().await, JOBS * (JOBS - 1) / 2);
    assert!(seen.read().await.iter().all(|&s| s), "every job is seen");
    let max = max_in_flight.load(Ordering::SeqCst);
    assert!(
        (1..=PERMITS).contains(&max),
        "{max} jobs held a permit at once"
    );
    assert_eq!(in_flight.load(Ordering::SeqCst), 0);
}

#[gort::test(timeout = "30s")]
async fn async_channel_and_async_lock_64_tasks() {
    channel_and_locks().await
}

// ---------------------------------------------------------------------------
// 6. async-tungstenite: a websocket echo over gort TCP.

/// A payload of `len` bytes that differs with `seed`.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// A server task accepts one connection, upgrades it with `accept_async`
/// and echoes every text and binary message until the close handshake;
/// the client (`client_async` over a gort `TcpStream`) sends 50 text and
/// 50 binary messages one at a time (binary ones up to 100 KB, several
/// frames' worth of reads), then 100 small ones back to back, and checks
/// each echo exactly, then closes.
async fn websocket_echo() {
    use async_tungstenite::tungstenite::Message;

    const LOCKSTEP: u64 = 50;
    const PIPELINED: u64 = 100;

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("the listener's address");
    let server = gort::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut ws = async_tungstenite::accept_async(stream)
            .await
            .expect("the server's handshake");
        let mut echoed = 0u64;
        while let Some(msg) = ws.next().await {
            let msg = msg.expect("a message from the client");
            if msg.is_text() || msg.is_binary() {
                ws.send(msg).await.expect("echo");
                echoed += 1;
            }
        }
        echoed
    });

    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut ws, response) = async_tungstenite::client_async(format!("ws://{addr}/"), stream)
        .await
        .expect("the client's handshake");
    assert_eq!(response.status().as_u16(), 101, "Switching Protocols");

    for i in 0..LOCKSTEP {
        let text = Message::text(format!("text message {i}: {}", "gort ".repeat(i as usize)));
        ws.send(text.clone()).await.expect("send text");
        assert_eq!(
            ws.next().await.expect("an echo").expect("a text echo"),
            text
        );

        let binary = Message::binary(bytes(i, 2_000 * i as usize + 1));
        ws.send(binary.clone()).await.expect("send binary");
        assert_eq!(
            ws.next().await.expect("an echo").expect("a binary echo"),
            binary
        );
    }

    let pipelined = |i: u64| {
        if i % 2 == 0 {
            Message::text(format!("pipelined {i}"))
        } else {
            Message::binary(bytes(1_000 + i, 64))
        }
    };
    for i in 0..PIPELINED {
        ws.feed(pipelined(i)).await.expect("queue a message");
    }
    ws.flush().await.expect("flush the pipelined messages");
    for i in 0..PIPELINED {
        let echo = ws.next().await.expect("an echo").expect("a pipelined echo");
        assert_eq!(echo, pipelined(i), "pipelined message {i}");
    }

    ws.close(None).await.expect("start the close handshake");
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Close(_)) => {}
            other => panic!("after close, expected only the server's Close, got {other:?}"),
        }
    }
    let echoed = server.await.expect("the server task does not panic");
    assert_eq!(echoed, 2 * LOCKSTEP + PIPELINED);
}

#[gort::test(timeout = "30s")]
async fn async_tungstenite_websocket_echo() {
    websocket_echo().await
}

// ---------------------------------------------------------------------------
// 7. async-compression: gzip both ways over gort TCP.

/// 256 KiB of text lines followed by 64 KiB of noise.
fn payload() -> Vec<u8> {
    let mut p = Vec::new();
    let mut i = 0u64;
    while p.len() < 256 * 1024 {
        p.extend_from_slice(
            format!("line {i}: the quick brown fox #{}\n", i * 7919 % 1000).as_bytes(),
        );
        i += 1;
    }
    p.extend(bytes(7, 64 * 1024));
    p
}

/// The client gzips the payload into the connection with the write-side
/// `GzipEncoder`, whose close shuts the write half down; the server reads
/// the raw bytes (checking gzip's magic and that they are smaller than
/// the payload), decodes them with the bufread `GzipDecoder`, checks them,
/// and sends them back gzipped with the bufread `GzipEncoder`; the client
/// decodes the reply from the same stream and compares it with the payload.
async fn gzip_round_trip() {
    use async_compression::futures::{bufread, write};

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("the listener's address");
    let server = gort::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut wire = Vec::new();
        stream
            .read_to_end(&mut wire)
            .await
            .expect("read the gzip stream");
        assert_eq!(
            wire[..3],
            [0x1f, 0x8b, 0x08],
            "gzip's magic and deflate method"
        );
        let mut decoded = Vec::new();
        bufread::GzipDecoder::new(&wire[..])
            .read_to_end(&mut decoded)
            .await
            .expect("decode");
        assert_eq!(decoded, payload(), "the server decodes the payload exactly");
        let mut encoder = bufread::GzipEncoder::new(&decoded[..]);
        futures::io::copy(&mut encoder, &mut stream)
            .await
            .expect("send the reply");
        stream
            .close()
            .await
            .expect("shut the reply's write half down");
        wire.len()
    });

    let stream = TcpStream::connect(addr).await.expect("connect");
    let mut encoder = write::GzipEncoder::new(stream);
    encoder.write_all(&payload()).await.expect("send gzipped");
    encoder
        .close()
        .await
        .expect("finish the gzip stream and shut the write half down");
    let stream = encoder.into_inner();
    let mut reply = Vec::new();
    bufread::GzipDecoder::new(BufReader::new(stream))
        .read_to_end(&mut reply)
        .await
        .expect("decode the reply");
    assert_eq!(reply, payload(), "the client decodes the reply exactly");

    let wire_len = server.await.expect("the server task does not panic");
    assert!(
        wire_len < payload().len(),
        "gzip sent {wire_len} bytes for {}",
        payload().len()
    );
}

#[gort::test(timeout = "30s")]
async fn async_compression_gzip_over_tcp() {
    gzip_round_trip().await
}
