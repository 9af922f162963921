//! Exactly-once delivery under cancellation: every value is received once
//! or never sent, however selects are dropped mid-wait.
//!
//! Not a port of any one Go test: Go's selects cannot be cancelled, so this
//! generalises the accounting of Go's `runtime/chan_test.go`
//! (`TestSelectStress`, `TestMultiConsumer`) and `test/chan/doubleselect.go`
//! (BSD license, Copyright The Go Authors) to gort's droppable select
//! futures, and checks the contract's promise: "no value is lost or
//! duplicated however many selects and senders race, including when a
//! select is dropped while a peer commits to it".
//!
//! Every value is a [`Token`] with a unique id that records, in a shared
//! [`Ledger`], whether it was received or destroyed (dropped without being
//! received). At the end each id must have exactly one of the two, and:
//!
//! - receive-side drops (`recv_drops_*`): senders send plainly, so every
//!   send reports `Ok` and every token must be received exactly once,
//!   including those a dropped select handed back to its channel;
//! - send-side drops (`send_drops_*`): each sending select offers a distinct
//!   token on each channel; at most one of them may be received; the one of
//!   a select that reported `Ok` must be received; all of a select that
//!   took its future case must be destroyed.
//!
//! Selects are dropped in four ways: `gort::time::timeout` with a tiny
//! limit, `futures::future::select` against a short sleep, a wrapper that
//! drops the select on its next wake-up without polling it (so a peer has
//! typically just committed to it), or not at all. Counts are fixed and
//! nothing depends on timing except how often each path is taken.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::Either;
use gort::sync::{chan, Receiver, Sender, TrySendError};

fn scaled(debug: usize, release: usize) -> usize {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

/// Fails (with a dump of the runtime's tasks) instead of hanging if a test
/// stops making progress: a lost wake-up shows up as this panic.
async fn watchdog<F: Future>(what: &str, f: F) -> F::Output {
    match gort::time::timeout(Duration::from_secs(30), f).await {
        Ok(v) => v,
        Err(_) => panic!(
            "{what}: no progress in 30 s (lost wake-up?)\n{}",
            gort::runtime::dump()
        ),
    }
}

// ---------------------------------------------------------------------------
// Ledger and tokens
// ---------------------------------------------------------------------------

/// Per id: how many times it was received, and how many times destroyed.
struct Ledger {
    received: Vec<AtomicU32>,
    destroyed: Vec<AtomicU32>,
}

impl Ledger {
    fn new(n: usize) -> Arc<Ledger> {
        Arc::new(Ledger {
            received: (0..n).map(|_| AtomicU32::new(0)).collect(),
            destroyed: (0..n).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    fn received(&self, id: usize) -> u32 {
        self.received[id].load(Ordering::SeqCst)
    }

    fn destroyed(&self, id: usize) -> u32 {
        self.destroyed[id].load(Ordering::SeqCst)
    }

    /// Every id was received or destroyed, exactly once in all.
    fn assert_each_accounted_once(&self) {
        for id in 0..self.received.len() {
            let (r, d) = (self.received(id), self.destroyed(id));
            assert!(
                r + d == 1,
                "token {id}: received {r} times, destroyed {d} times (want exactly one of them once)"
            );
        }
    }
}

/// A value with an identity: dropping it unreceived is recorded.
struct Token {
    id: usize,
    ledger: Arc<Ledger>,
    received: bool,
}

impl Token {
    fn new(id: usize, ledger: &Arc<Ledger>) -> Token {
        Token {
            id,
            ledger: ledger.clone(),
            received: false,
        }
    }

    /// A receiver got it.
    fn receive(mut self) {
        self.ledger.received[self.id].fetch_add(1, Ordering::SeqCst);
        self.received = true;
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if !self.received {
            self.ledger.destroyed[self.id].fetch_add(1, Ordering::SeqCst);
        }
    }
}

// ---------------------------------------------------------------------------
// Randomness and cancellation
// ---------------------------------------------------------------------------

/// xorshift64*, seeded per task so each run makes the same choices (the
/// interleavings still differ).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How a select future is awaited, and possibly dropped before it completes.
#[derive(Clone, Copy, Debug)]
enum How {
    /// To completion.
    Plain,
    /// Inside `gort::time::timeout`.
    Timeout(Duration),
    /// Raced against a sleep with `futures::future::select`; the loser is
    /// dropped.
    Race(Duration),
    /// Polled at most this many times, then dropped on the next wake-up
    /// without being polled again.
    Polls(u32),
}

impl How {
    fn pick(rng: &mut Rng) -> How {
        let d = Duration::from_micros(rng.below(200));
        match rng.below(8) {
            0 | 1 => How::Plain,
            2 | 3 => How::Timeout(d),
            4 | 5 => How::Race(d),
            _ => How::Polls(1 + rng.below(2) as u32),
        }
    }
}

/// Drops the inner future once its poll budget is spent.
struct PollBudget<F> {
    inner: Option<Pin<Box<F>>>,
    budget: u32,
}

impl<F: Future> Future for PollBudget<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.budget == 0 {
            self.inner = None;
            return Poll::Ready(None);
        }
        self.budget -= 1;
        let inner = self.inner.as_mut().expect("polled after completion");
        match inner.as_mut().poll(cx) {
            Poll::Ready(v) => {
                self.inner = None;
                Poll::Ready(Some(v))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Runs `fut` the way `how` says; `None` if it was dropped unfinished.
async fn cancellable<F: Future>(how: How, fut: F) -> Option<F::Output> {
    match how {
        How::Plain => Some(fut.await),
        How::Timeout(d) => gort::time::timeout(d, fut).await.ok(),
        How::Race(d) => match futures::future::select(Box::pin(fut), gort::time::sleep(d)).await {
            Either::Left((v, _sleep)) => Some(v),
            Either::Right(((), unfinished)) => {
                drop(unfinished);
                None
            }
        },
        How::Polls(n) => {
            PollBudget {
                inner: Some(Box::pin(fut)),
                budget: n,
            }
            .await
        }
    }
}

// ---------------------------------------------------------------------------
// Receivers (shared by both scenarios)
// ---------------------------------------------------------------------------

/// What one receiving select produced.
enum Got {
    Chan(usize, Option<Token>),
    Idle,
}

#[derive(Default, Debug, Clone, Copy)]
struct RecvStats {
    received: usize,
    dropped_selects: usize,
    idle: usize,
}

/// Loops a select over the four channels' receive cases (plus, now and
/// then, a sleep or a yield case), awaited in a random way that may drop it,
/// until every channel is closed and drained.
async fn selecting_receiver(rxs: Vec<Receiver<Token>>, seed: u64) -> RecvStats {
    assert_eq!(rxs.len(), 4);
    let mut rng = Rng::new(seed);
    let mut open = [true; 4];
    let mut stats = RecvStats::default();
    while open.iter().any(|&o| o) {
        let how = How::pick(&mut rng);
        let extra = rng.below(6);
        let nap = Duration::from_micros(rng.below(100));
        let (o, r) = (open, &rxs);
        let sel = async move {
            gort::select! {
                v = r[0].recv(), if o[0] => Got::Chan(0, v),
                v = r[1].recv(), if o[1] => Got::Chan(1, v),
                v = r[2].recv(), if o[2] => Got::Chan(2, v),
                v = r[3].recv(), if o[3] => Got::Chan(3, v),
                _ = gort::time::sleep(nap), if extra == 0 => Got::Idle,
                _ = gort::yield_now(), if extra == 1 => Got::Idle,
            }
        };
        match cancellable(how, sel).await {
            None => stats.dropped_selects += 1,
            Some(Got::Chan(_, Some(tok))) => {
                tok.receive();
                stats.received += 1;
            }
            Some(Got::Chan(k, None)) => open[k] = false,
            Some(Got::Idle) => stats.idle += 1,
        }
    }
    stats
}

fn channels(caps: [usize; 4]) -> (Vec<Sender<Token>>, Vec<Receiver<Token>>) {
    caps.iter().map(|&c| chan::<Token>(c)).unzip()
}

// ---------------------------------------------------------------------------
// Receive-side drops
// ---------------------------------------------------------------------------

/// Senders each send their own range of ids, every send to a random one of
/// the four channels by plain `send`, `try_send` falling back to `send`, or
/// a one-case select; all must report `Ok`. Selecting receivers, whose
/// selects are dropped at random, must receive every id exactly once.
async fn recv_drops(caps: [usize; 4], senders: usize, per_sender: usize, receivers: usize) {
    let total = senders * per_sender;
    let ledger = Ledger::new(total);
    let (txs, rxs) = channels(caps);

    let recv_tasks: Vec<_> = (0..receivers)
        .map(|r| gort::spawn(selecting_receiver(rxs.clone(), 1000 + r as u64)))
        .collect();
    drop(rxs);

    let send_tasks: Vec<_> = (0..senders)
        .map(|s| {
            let (txs, ledger) = (txs.clone(), ledger.clone());
            gort::spawn(async move {
                let mut rng = Rng::new(s as u64 + 1);
                let mut oks = 0;
                for id in s * per_sender..(s + 1) * per_sender {
                    let tx = &txs[rng.below(4) as usize];
                    let tok = Token::new(id, &ledger);
                    let r = match rng.below(3) {
                        0 => tx.send(tok).await,
                        1 => match tx.try_send(tok) {
                            Ok(()) => Ok(()),
                            Err(TrySendError::Full(tok)) => tx.send(tok).await,
                            Err(TrySendError::Closed(_)) => panic!("closed while sending"),
                        },
                        _ => gort::select! { r = tx.send(tok) => r },
                    };
                    assert!(r.is_ok(), "send of token {id} failed");
                    oks += 1;
                    if rng.below(16) == 0 {
                        gort::yield_now().await;
                    }
                }
                oks
                // dropping txs: the channels close once every sender is done
            })
        })
        .collect();
    drop(txs);

    watchdog("recv_drops", async {
        let mut oks = 0;
        for t in send_tasks {
            oks += t.await.unwrap();
        }
        assert_eq!(oks, total, "sends that reported Ok");
        let mut all = RecvStats::default();
        for t in recv_tasks {
            let s = t.await.unwrap();
            all.received += s.received;
            all.dropped_selects += s.dropped_selects;
            all.idle += s.idle;
        }
        eprintln!("caps {caps:?}: {all:?}");
        assert_eq!(all.received, total, "tokens received");
    })
    .await;
    ledger.assert_each_accounted_once();
    for id in 0..total {
        assert_eq!(ledger.received(id), 1, "token {id} was sent with Ok");
    }
}

// Each scenario runs on one P (tasks interleave only at their await points,
// but selects are still dropped after peers committed to them) and on
// several Ps (truly parallel peers).

#[gort::test(procs = 1)]
async fn recv_drops_unbuffered_one_p() {
    recv_drops([0, 0, 0, 0], 4, scaled(4000, 20_000), 3).await;
}

#[gort::test(procs = 2)]
async fn recv_drops_unbuffered() {
    recv_drops([0, 0, 0, 0], 4, scaled(4000, 20_000), 3).await;
}

#[gort::test(procs = 1)]
async fn recv_drops_buffered_one_p() {
    recv_drops([1, 2, 3, 8], 4, scaled(4000, 20_000), 3).await;
}

#[gort::test(procs = 2)]
async fn recv_drops_buffered() {
    recv_drops([1, 2, 3, 8], 4, scaled(4000, 20_000), 3).await;
}

#[gort::test(procs = 1)]
async fn recv_drops_mixed_one_p() {
    recv_drops([0, 0, 1, 4], 3, scaled(5000, 25_000), 5).await;
}

#[gort::test(procs = 3)]
async fn recv_drops_mixed() {
    recv_drops([0, 0, 1, 4], 3, scaled(5000, 25_000), 5).await;
}

// ---------------------------------------------------------------------------
// Send-side drops
// ---------------------------------------------------------------------------

/// What a sending select reported.
const REPORTED_NOTHING: usize = usize::MAX; // dropped before it finished
const REPORTED_IDLE: usize = usize::MAX - 1; // its future case won

/// Each sender runs `groups` selects; select `g` offers token `4g + k` on
/// channel `k` (four distinct tokens, at most one can go), plus now and then
/// a sleep or yield case, and is awaited in a random way that may drop it.
/// Receivers as in [`recv_drops`]. Then per select: tokens received <= 1;
/// the token of a select that reported `Ok` on channel k is `4g + k`, and it
/// was received; a select whose future case won sent nothing.
async fn send_drops(caps: [usize; 4], senders: usize, groups: usize, receivers: usize) {
    let total_groups = senders * groups;
    let ledger = Ledger::new(4 * total_groups);
    let reports: Arc<Vec<AtomicUsize>> = Arc::new(
        (0..total_groups)
            .map(|_| AtomicUsize::new(REPORTED_NOTHING))
            .collect(),
    );
    let (txs, rxs) = channels(caps);

    let recv_tasks: Vec<_> = (0..receivers)
        .map(|r| gort::spawn(selecting_receiver(rxs.clone(), 2000 + r as u64)))
        .collect();
    drop(rxs);

    let send_tasks: Vec<_> = (0..senders)
        .map(|s| {
            let (txs, ledger, reports) = (txs.clone(), ledger.clone(), reports.clone());
            gort::spawn(async move {
                let mut rng = Rng::new(500 + s as u64);
                let mut dropped = 0;
                for g in s * groups..(s + 1) * groups {
                    let how = How::pick(&mut rng);
                    let extra = rng.below(6);
                    let nap = Duration::from_micros(rng.below(100));
                    let t = &txs;
                    let toks: [Token; 4] = std::array::from_fn(|k| Token::new(4 * g + k, &ledger));
                    let [t0, t1, t2, t3] = toks;
                    let sel = async move {
                        gort::select! {
                            r = t[0].send(t0) => { assert!(r.is_ok()); 0 }
                            r = t[1].send(t1) => { assert!(r.is_ok()); 1 }
                            r = t[2].send(t2) => { assert!(r.is_ok()); 2 }
                            r = t[3].send(t3) => { assert!(r.is_ok()); 3 }
                            _ = gort::time::sleep(nap), if extra == 0 => REPORTED_IDLE,
                            _ = gort::yield_now(), if extra == 1 => REPORTED_IDLE,
                        }
                    };
                    match cancellable(how, sel).await {
                        Some(k) => reports[g].store(k, Ordering::SeqCst),
                        None => dropped += 1,
                    }
                }
                dropped
            })
        })
        .collect();
    drop(txs);

    watchdog("send_drops", async {
        let mut dropped = 0;
        for t in send_tasks {
            dropped += t.await.unwrap();
        }
        let mut all = RecvStats::default();
        for t in recv_tasks {
            let s = t.await.unwrap();
            all.received += s.received;
            all.dropped_selects += s.dropped_selects;
            all.idle += s.idle;
        }
        eprintln!("caps {caps:?}: {dropped} sending selects dropped; receivers {all:?}");
    })
    .await;

    ledger.assert_each_accounted_once();
    let mut delivered = 0;
    for g in 0..total_groups {
        let got: Vec<usize> = (0..4)
            .filter(|&k| ledger.received(4 * g + k) == 1)
            .collect();
        assert!(
            got.len() <= 1,
            "select {g}: tokens of cases {got:?} were all received"
        );
        delivered += got.len();
        match reports[g].load(Ordering::SeqCst) {
            REPORTED_NOTHING => {}
            REPORTED_IDLE => assert!(
                got.is_empty(),
                "select {g} took its future case, yet case {got:?}'s token was received"
            ),
            k => assert_eq!(got, [k], "select {g} reported Ok on case {k}"),
        }
    }
    eprintln!("{delivered} of {total_groups} sending selects delivered");
}

#[gort::test(procs = 1)]
async fn send_drops_unbuffered_one_p() {
    send_drops([0, 0, 0, 0], 3, scaled(4000, 20_000), 3).await;
}

#[gort::test(procs = 2)]
async fn send_drops_unbuffered() {
    send_drops([0, 0, 0, 0], 3, scaled(4000, 20_000), 3).await;
}

#[gort::test(procs = 1)]
async fn send_drops_mixed_one_p() {
    send_drops([0, 0, 2, 5], 3, scaled(4000, 20_000), 4).await;
}

#[gort::test(procs = 3)]
async fn send_drops_mixed() {
    send_drops([0, 0, 2, 5], 3, scaled(4000, 20_000), 4).await;
}

// ---------------------------------------------------------------------------
// Refutable patterns
// ---------------------------------------------------------------------------

/// A receive case whose refutable pattern does not match the value it got
/// is disabled (contract: "refutable: no match disables the case"), but the
/// value must not vanish: "a receive that is not chosen takes no value".
/// Here the select takes `default`, and the token must still be in the
/// channel (or at least accounted for as received by someone).
#[gort::test(procs = 1)]
async fn refutable_pattern_mismatch_keeps_the_value() {
    let ledger = Ledger::new(1);
    let (tx, rx) = chan::<Token>(1);
    tx.send(Token::new(0, &ledger)).await.unwrap();
    let (_idle_tx, idle) = chan::<Token>(0);
    let took = gort::select! {
        Some(Token { id: 1, .. }) = rx.recv() => "token 1",
        _ = idle.recv() => "idle",
        default => "default",
    };
    assert_eq!(took, "default");
    assert_eq!(ledger.destroyed(0), 0, "the unmatched value was dropped");
    let tok = rx
        .try_recv()
        .expect("the unmatched value is still in the channel");
    assert_eq!(tok.id, 0);
    tok.receive();
    ledger.assert_each_accounted_once();
}
