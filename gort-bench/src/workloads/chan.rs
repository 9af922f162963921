//! Channels and select: `chan_pingpong`, `chan_mpmc`, `chan_spsc_buffered`,
//! `select2`, `select_uncontended` and `chan_idle_bytes`.
//!
//! These measure the channels themselves, so each contender uses its own:
//!
//! | field | channel | runs on |
//! |---|---|---|
//! | `gort=` | `gort::sync::chan` (`gort::select!`) | gort |
//! | `tokio=` | `tokio::sync::mpsc` (`tokio::select!`) | tokio |
//! | `flume=` | `flume::bounded` | tokio (`select2`: OS threads, see there) |
//! | `async_channel=` | `async_channel::bounded` | tokio |
//! | `smol=` | `async_channel::bounded` (smol's channel) | smol |
//! | `crossbeam=` | `crossbeam_channel::bounded` | OS threads, no runtime |
//! | `go=` | `make(chan uint64, cap)`, `select` | Go (`bench/go/chan.go`) |
//!
//! The async contenders share one generic body per workload, over
//! [`System`] and [`Chan`]; crossbeam (blocking, for threads) and flume's
//! `Selector` (the same) have thread versions of their own. The messages
//! are `u64`s; every round checks that it received each one exactly once
//! (count and sum). Each clock starts once the channels exist, before the
//! first task or thread is spawned, and stops when the last message has
//! been received; waiting for the producers to exit comes after, untimed.
//!
//! Rendezvous: `chan_pingpong` asks for an unbuffered channel (`cap` 0).
//! gort, Go, flume and crossbeam have one; tokio's mpsc and async-channel
//! do not (capacity 0 panics), so they get capacity 1, where a send
//! completes without waiting for the receiver. See [`Chan::bounded`].
//!
//! smol's channel is async-channel (`smol::channel`), so `smol=` is the
//! `async_channel=` body on smol's executor: the two fields differ by the
//! executor alone. `select2` and `select_uncontended` print `smol=NA`:
//! smol has no select over channels (`futures_lite::future::or` races two
//! futures, dropping the loser, a different operation). `chan_idle_bytes`'
//! smol figure is, like tokio's, `idle_task_bytes`' (a task parked on a
//! `tokio::sync::oneshot`), since async-channel has no rendezvous channel.
//!
//! Every count matches the Go twin's (`chan.go`); change both together.

use std::future::Future;
use std::thread;
use std::time::Instant;

use super::{idle, on_task};
use crate::harness::RoundResult;
use crate::system::{Gort, System, Tokio};

/// Round trips per round of `chan_pingpong` (Go: `chanPingPongTrips`).
/// Not a million: crossbeam's two OS threads take 40-80 µs per round trip
/// on two cores (a thread wake each way), which at a million would make
/// its eight rounds last minutes; at this count they take about 25 s in
/// all, and the async contenders' rounds about 15-35 ms each.
const PINGPONG_TRIPS: usize = 50_000;
/// `chan_mpmc`'s shape (Go: `chanMPMCProducers`, `chanMPMCConsumers`,
/// `chanMPMCCap`, `chanMPMCMessages`); the messages are in all, split
/// evenly among the producers.
const MPMC_PRODUCERS: usize = 4;
const MPMC_CONSUMERS: usize = 4;
const MPMC_CAP: usize = 1024;
const MPMC_MESSAGES: usize = 4_000_000;
/// `chan_spsc_buffered`'s capacity and messages (Go: `chanSPSCCap`,
/// `chanSPSCMessages`).
const SPSC_CAP: usize = 1024;
const SPSC_MESSAGES: usize = 1_000_000;
/// `select2`: each of the two channels' capacity, and the messages in all,
/// half from each producer (Go: `select2Cap`, `select2Messages`).
const SELECT2_CAP: usize = 16;
const SELECT2_MESSAGES: usize = 1_000_000;
/// Selects per round of `select_uncontended` (Go: `selectUncontendedCount`).
const SELECT_UNCONTENDED: usize = 1_000_000;

/// One async channel library, reduced to what the generic workloads need:
/// a bounded channel of `u64`, closed when its last sender is dropped.
pub(crate) trait Chan: 'static {
    type Tx: Clone + Send + 'static;
    type Rx: Send + 'static;

    /// A channel with room for `cap` values; `cap` 0 is a rendezvous where
    /// the library has one, else capacity 1 (tokio's mpsc, async-channel).
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);

    /// Sends `v`, waiting for room or a receiver. Panics if every receiver
    /// is gone, which no workload lets happen.
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_;

    /// The next value; `None` once the channel is closed and drained.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_;
}

/// gort's channels: Go's `hchan`, unbuffered for `cap` 0.
#[derive(Debug)]
pub(crate) struct GortChan;

impl Chan for GortChan {
    type Tx = gort::sync::Sender<u64>;
    type Rx = gort::sync::Receiver<u64>;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        gort::sync::chan(cap)
    }

    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_ {
        let send = tx.send(v);
        async move { send.await.expect("gort: every receiver is gone") }
    }

    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        rx.recv()
    }
}

/// tokio's `mpsc`: one receiver, and no rendezvous (`cap` 0 becomes 1).
#[derive(Debug)]
pub(crate) struct TokioMpsc;

impl Chan for TokioMpsc {
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        // Not a rendezvous at `cap` 0: tokio's mpsc needs room for one.
        tokio::sync::mpsc::channel(cap.max(1))
    }

    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_ {
        let send = tx.send(v);
        async move { send.await.expect("tokio: the receiver is gone") }
    }

    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        rx.recv()
    }
}

/// flume's async API; `cap` 0 is a rendezvous.
#[derive(Debug)]
pub(crate) struct Flume;

impl Chan for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }

    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_ {
        let send = tx.send_async(v);
        async move { send.await.expect("flume: every receiver is gone") }
    }

    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        let recv = rx.recv_async();
        async move { recv.await.ok() }
    }
}

/// async-channel: no rendezvous (`cap` 0 becomes 1).
#[derive(Debug)]
pub(crate) struct AsyncChannel;

impl Chan for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;

    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        // Not a rendezvous at `cap` 0: `bounded(0)` panics.
        async_channel::bounded(cap.max(1))
    }

    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_ {
        let send = tx.send(v);
        async move {
            send.await.expect("async-channel: every receiver is gone");
        }
    }

    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        let recv = rx.recv();
        async move { recv.await.ok() }
    }
}

/// What a consumer received: how many values, and their sum.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    count: usize,
    sum: u64,
}

impl Tally {
    fn add(&mut self, v: u64) {
        self.count += 1;
        self.sum += v;
    }

    fn merge(self, other: Tally) -> Tally {
        Tally {
            count: self.count + other.count,
            sum: self.sum + other.sum,
        }
    }

    /// What `producers` producers each sending `0..per_producer` deliver.
    fn expected(producers: usize, per_producer: usize) -> Tally {
        let n = per_producer as u64;
        Tally {
            count: producers * per_producer,
            sum: producers as u64 * (n * n.saturating_sub(1) / 2),
        }
    }

    /// Panics unless this is exactly what `producers` producers of
    /// `per_producer` values each sent.
    fn check(self, workload: &str, producers: usize, per_producer: usize) {
        assert_eq!(
            self,
            Tally::expected(producers, per_producer),
            "{workload}: a message was lost or duplicated"
        );
    }
}

/// A producer task: sends `0..count` on `tx`, then drops it.
async fn produce<C: Chan>(tx: C::Tx, count: usize) {
    for v in 0..count as u64 {
        C::send(&tx, v).await;
    }
}

/// A consumer: receives until the channel is closed and drained.
async fn consume<C: Chan>(mut rx: C::Rx) -> Tally {
    let mut tally = Tally::default();
    while let Some(v) = C::recv(&mut rx).await {
        tally.add(v);
    }
    tally
}

/// `chan_pingpong`: the driver sends `i` on one channel (`cap` 0, see
/// [`Chan::bounded`]) and a second task answers `i + 1` on another, the
/// driver waiting for each answer before the next send; [`PINGPONG_TRIPS`]
/// round trips. ns per round trip.
pub(crate) fn chan_pingpong<S: System, C: Chan>(rt: &S::Runtime) -> RoundResult {
    let elapsed = on_task::<S, _>(rt, async {
        let (ping_tx, mut ping_rx) = C::bounded(0);
        let (pong_tx, mut pong_rx) = C::bounded(0);
        let start = Instant::now();
        let echo = S::spawn(async move {
            while let Some(v) = C::recv(&mut ping_rx).await {
                C::send(&pong_tx, v + 1).await;
            }
        });
        for i in 0..PINGPONG_TRIPS as u64 {
            C::send(&ping_tx, i).await;
            let v = C::recv(&mut pong_rx).await;
            assert_eq!(v, Some(i + 1), "chan_pingpong: wrong answer");
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        echo.await;
        elapsed
    });
    RoundResult::ns_per_op(elapsed, PINGPONG_TRIPS)
}

/// `chan_pingpong` on crossbeam-channel (`bounded(0)`, a rendezvous): the
/// calling thread pings, a second OS thread answers.
pub(crate) fn chan_pingpong_crossbeam() -> RoundResult {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(0);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(0);
    let start = Instant::now();
    let echo = thread::spawn(move || {
        for v in ping_rx {
            pong_tx
                .send(v + 1)
                .expect("crossbeam: the receiver is gone");
        }
    });
    for i in 0..PINGPONG_TRIPS as u64 {
        ping_tx.send(i).expect("crossbeam: the receiver is gone");
        let v = pong_rx.recv().ok();
        assert_eq!(v, Some(i + 1), "chan_pingpong: wrong answer");
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    join(echo);
    RoundResult::ns_per_op(elapsed, PINGPONG_TRIPS)
}

/// `chan_mpmc`: [`MPMC_PRODUCERS`] tasks send [`MPMC_MESSAGES`] in all on
/// one channel of capacity [`MPMC_CAP`], which [`MPMC_CONSUMERS`] tasks
/// drain. ns per message.
///
/// No tokio figure: tokio's `mpsc` has a single receiver, and sharing it
/// among four consumers behind a `tokio::sync::Mutex` would measure that
/// mutex's hand-off (one consumer at a time, holding the lock across its
/// wait) rather than a multi-consumer channel.
pub(crate) fn chan_mpmc<S: System, C: Chan>(rt: &S::Runtime) -> RoundResult
where
    C::Rx: Clone,
{
    let per_producer = MPMC_MESSAGES / MPMC_PRODUCERS;
    let (tally, elapsed) = on_task::<S, _>(rt, async move {
        let (tx, rx) = C::bounded(MPMC_CAP);
        let start = Instant::now();
        let consumers: Vec<_> = (0..MPMC_CONSUMERS)
            .map(|_| S::spawn(consume::<C>(rx.clone())))
            .collect();
        drop(rx);
        for _ in 0..MPMC_PRODUCERS {
            S::go(produce::<C>(tx.clone(), per_producer));
        }
        drop(tx);
        let mut tally = Tally::default();
        for c in consumers {
            tally = tally.merge(c.await);
        }
        (tally, start.elapsed())
    });
    tally.check("chan_mpmc", MPMC_PRODUCERS, per_producer);
    RoundResult::ns_per_op(elapsed, MPMC_MESSAGES)
}

/// `chan_mpmc` on crossbeam-channel: one OS thread per producer and per
/// consumer (eight on two cores), blocking sends and receives.
pub(crate) fn chan_mpmc_crossbeam() -> RoundResult {
    let per_producer = MPMC_MESSAGES / MPMC_PRODUCERS;
    let (tx, rx) = crossbeam_channel::bounded::<u64>(MPMC_CAP);
    let start = Instant::now();
    let consumers: Vec<_> = (0..MPMC_CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || {
                let mut tally = Tally::default();
                for v in rx {
                    tally.add(v);
                }
                tally
            })
        })
        .collect();
    drop(rx);
    let producers: Vec<_> = (0..MPMC_PRODUCERS)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for v in 0..per_producer as u64 {
                    tx.send(v).expect("crossbeam: every receiver is gone");
                }
            })
        })
        .collect();
    drop(tx);
    let tally = consumers
        .into_iter()
        .map(join)
        .fold(Tally::default(), Tally::merge);
    let elapsed = start.elapsed();
    producers.into_iter().for_each(join);
    tally.check("chan_mpmc", MPMC_PRODUCERS, per_producer);
    RoundResult::ns_per_op(elapsed, MPMC_MESSAGES)
}

/// `chan_spsc_buffered`: a task sends [`SPSC_MESSAGES`] on a channel of
/// capacity [`SPSC_CAP`]; the driver receives them. ns per message.
pub(crate) fn chan_spsc_buffered<S: System, C: Chan>(rt: &S::Runtime) -> RoundResult {
    let (tally, elapsed) = on_task::<S, _>(rt, async {
        let (tx, rx) = C::bounded(SPSC_CAP);
        let start = Instant::now();
        S::go(produce::<C>(tx, SPSC_MESSAGES));
        let tally = consume::<C>(rx).await;
        (tally, start.elapsed())
    });
    tally.check("chan_spsc_buffered", 1, SPSC_MESSAGES);
    RoundResult::ns_per_op(elapsed, SPSC_MESSAGES)
}

/// `chan_spsc_buffered` on crossbeam-channel: a producer thread, and the
/// calling thread receiving.
pub(crate) fn chan_spsc_buffered_crossbeam() -> RoundResult {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(SPSC_CAP);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        for v in 0..SPSC_MESSAGES as u64 {
            tx.send(v).expect("crossbeam: the receiver is gone");
        }
    });
    let mut tally = Tally::default();
    for v in rx {
        tally.add(v);
    }
    let elapsed = start.elapsed();
    join(producer);
    tally.check("chan_spsc_buffered", 1, SPSC_MESSAGES);
    RoundResult::ns_per_op(elapsed, SPSC_MESSAGES)
}

/// A gort round, as the workload table holds it.
type GortRound = fn(&<Gort as System>::Runtime) -> RoundResult;

/// `select2`'s gort side.
pub(super) const SELECT2_GORT: Option<GortRound> = Some(select2_gort);

/// `select2`: two producer tasks each send half of [`SELECT2_MESSAGES`] on
/// a channel of their own (capacity [`SELECT2_CAP`]); the driver receives
/// them all through one `select!` over both, disabling a case (`, if`)
/// once its channel is closed and drained, until both are. ns per message.
fn select2_gort(rt: &gort::Runtime) -> RoundResult {
    let half = SELECT2_MESSAGES / 2;
    let (tally, elapsed) = on_task::<Gort, _>(rt, async move {
        let (tx1, rx1) = GortChan::bounded(SELECT2_CAP);
        let (tx2, rx2) = GortChan::bounded(SELECT2_CAP);
        let start = Instant::now();
        Gort::go(produce::<GortChan>(tx1, half));
        Gort::go(produce::<GortChan>(tx2, half));
        let (mut open1, mut open2) = (true, true);
        let mut tally = Tally::default();
        while open1 || open2 {
            gort::select! {
                v = rx1.recv(), if open1 => {
                    match v {
                        Some(v) => tally.add(v),
                        None => open1 = false,
                    }
                },
                v = rx2.recv(), if open2 => {
                    match v {
                        Some(v) => tally.add(v),
                        None => open2 = false,
                    }
                },
            }
        }
        (tally, start.elapsed())
    });
    tally.check("select2", 2, half);
    RoundResult::ns_per_op(elapsed, SELECT2_MESSAGES)
}

/// `select2` on tokio: `tokio::select!` over two `mpsc` receivers.
pub(crate) fn select2_tokio(rt: &tokio::runtime::Runtime) -> RoundResult {
    let half = SELECT2_MESSAGES / 2;
    let (tally, elapsed) = on_task::<Tokio, _>(rt, async move {
        let (tx1, mut rx1) = TokioMpsc::bounded(SELECT2_CAP);
        let (tx2, mut rx2) = TokioMpsc::bounded(SELECT2_CAP);
        let start = Instant::now();
        Tokio::go(produce::<TokioMpsc>(tx1, half));
        Tokio::go(produce::<TokioMpsc>(tx2, half));
        let (mut open1, mut open2) = (true, true);
        let mut tally = Tally::default();
        while open1 || open2 {
            tokio::select! {
                v = rx1.recv(), if open1 => {
                    match v {
                        Some(v) => tally.add(v),
                        None => open1 = false,
                    }
                },
                v = rx2.recv(), if open2 => {
                    match v {
                        Some(v) => tally.add(v),
                        None => open2 = false,
                    }
                },
            }
        }
        (tally, start.elapsed())
    });
    tally.check("select2", 2, half);
    RoundResult::ns_per_op(elapsed, SELECT2_MESSAGES)
}

/// `select2` on flume: `flume::Selector` is a blocking API, so this one
/// runs on OS threads (two producer threads, the calling thread
/// selecting), unlike flume's other figures, which are tasks on tokio. A
/// closed case is left out of the next `Selector`.
pub(crate) fn select2_flume() -> RoundResult {
    let half = SELECT2_MESSAGES / 2;
    let (tx1, rx1) = flume::bounded::<u64>(SELECT2_CAP);
    let (tx2, rx2) = flume::bounded::<u64>(SELECT2_CAP);
    let start = Instant::now();
    let producers = [tx1, tx2].map(|tx| {
        thread::spawn(move || {
            for v in 0..half as u64 {
                tx.send(v).expect("flume: the receiver is gone");
            }
        })
    });
    let (mut open1, mut open2) = (true, true);
    let mut tally = Tally::default();
    while open1 || open2 {
        let mut selector = flume::Selector::new();
        if open1 {
            selector = selector.recv(&rx1, |r| (1, r.ok()));
        }
        if open2 {
            selector = selector.recv(&rx2, |r| (2, r.ok()));
        }
        match selector.wait() {
            (_, Some(v)) => tally.add(v),
            (1, None) => open1 = false,
            (_, None) => open2 = false,
        }
    }
    let elapsed = start.elapsed();
    producers.into_iter().for_each(join);
    tally.check("select2", 2, half);
    RoundResult::ns_per_op(elapsed, SELECT2_MESSAGES)
}

/// `select_uncontended`: one task, [`SELECT_UNCONTENDED`] times: put a
/// value in a channel of capacity 1 with `try_send`, then `select!` over
/// that channel and one that never has data (its sender kept alive); the
/// first case always wins. ns per select (the `try_send` included).
pub(crate) fn select_uncontended_gort(rt: &gort::Runtime) -> RoundResult {
    let (sum, elapsed) = on_task::<Gort, _>(rt, async {
        let (tx_a, rx_a) = gort::sync::chan::<u64>(1);
        let (_tx_b, rx_b) = gort::sync::chan::<u64>(0);
        let mut sum = 0;
        let start = Instant::now();
        for i in 0..SELECT_UNCONTENDED as u64 {
            tx_a.try_send(i)
                .expect("select_uncontended: the capacity-1 channel is full");
            let v = gort::select! {
                v = rx_a.recv() => v,
                v = rx_b.recv() => {
                    panic!("select_uncontended: the idle channel delivered {v:?}")
                },
            };
            sum += v.expect("select_uncontended: the channel closed");
        }
        (sum, start.elapsed())
    });
    check_uncontended(sum);
    RoundResult::ns_per_op(elapsed, SELECT_UNCONTENDED)
}

/// `select_uncontended` on tokio: `try_send` and `tokio::select!` on two
/// `mpsc` channels of capacity 1 (the idle one's least).
pub(crate) fn select_uncontended_tokio(rt: &tokio::runtime::Runtime) -> RoundResult {
    let (sum, elapsed) = on_task::<Tokio, _>(rt, async {
        let (tx_a, mut rx_a) = tokio::sync::mpsc::channel::<u64>(1);
        let (_tx_b, mut rx_b) = tokio::sync::mpsc::channel::<u64>(1);
        let mut sum = 0;
        let start = Instant::now();
        for i in 0..SELECT_UNCONTENDED as u64 {
            tx_a.try_send(i)
                .expect("select_uncontended: the capacity-1 channel is full");
            let v = tokio::select! {
                v = rx_a.recv() => v,
                v = rx_b.recv() => {
                    panic!("select_uncontended: the idle channel delivered {v:?}")
                },
            };
            sum += v.expect("select_uncontended: the channel closed");
        }
        (sum, start.elapsed())
    });
    check_uncontended(sum);
    RoundResult::ns_per_op(elapsed, SELECT_UNCONTENDED)
}

fn check_uncontended(sum: u64) {
    Tally {
        count: SELECT_UNCONTENDED,
        sum,
    }
    .check("select_uncontended", 1, SELECT_UNCONTENDED);
}

/// `chan_idle_bytes`: `idle_task_bytes` with every task parked in a
/// receive on its own unbuffered `gort::sync::chan`, released by dropping
/// (closing) its sender, as Go's twin closes its channel. The figure
/// includes the task, the channel, the receive's waiter and the `Vec` slot
/// holding the `Sender`. (tokio's side is `idle_task_bytes`' own: a task
/// parked on a `tokio::sync::oneshot`.)
pub(crate) fn chan_idle_bytes(rt: &gort::Runtime) -> RoundResult {
    idle::parked_task_bytes::<Gort, _, _>(rt, || gort::sync::chan::<()>(0), drop)
}

/// Joins a thread of ours, re-raising its panic.
fn join<T>(handle: thread::JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each library: values in order, then `None` once the sender is gone.
    fn round_trip<C: Chan>() {
        futures::executor::block_on(async {
            let (tx, mut rx) = C::bounded(2);
            C::send(&tx, 7).await;
            C::send(&tx, 8).await;
            drop(tx);
            assert_eq!(C::recv(&mut rx).await, Some(7));
            assert_eq!(C::recv(&mut rx).await, Some(8));
            assert_eq!(C::recv(&mut rx).await, None);
        });
    }

    #[test]
    fn every_chan_delivers_then_closes() {
        round_trip::<GortChan>();
        round_trip::<TokioMpsc>();
        round_trip::<Flume>();
        round_trip::<AsyncChannel>();
    }

    #[test]
    fn tally_expects_each_value_once() {
        let mut t = Tally::default();
        for v in 0..5 {
            t.add(v);
        }
        let t = t.merge(t);
        assert_eq!(t, Tally::expected(2, 5));
        assert_eq!(Tally::expected(3, 0), Tally::default());
    }

    #[test]
    fn counts_split_evenly() {
        assert_eq!(MPMC_MESSAGES % MPMC_PRODUCERS, 0);
        assert_eq!(SELECT2_MESSAGES % 2, 0);
    }
}
