//! The offload pool's handshake (see `blocking`'s module documentation), on
//! the real `Pool` with counting jobs. A lost wake-up shows up as a loom
//! deadlock: the job is queued, every pool thread sleeps, and the model's
//! main thread waits for the job forever.
//!
//! The queue itself is crossbeam's `Injector`, which loom does not see; the
//! handshake's submitter flag is the `queued` counter, a loom atomic, so the
//! fences of steps S1 and I2 are what the model checks.

use std::sync::Arc;
use std::time::Duration;

use crate::blocking::pool::NoEntry;
use loom::sync::{Condvar, Mutex};
use loom::thread;

use crate::blocking::pool::{Job, Pool, PoolConfig};

/// Jobs run and jobs cancelled, with a condvar to wait for a total.
#[derive(Default)]
struct Done {
    counts: Mutex<(usize, usize)>,
    cv: Condvar,
}

impl Done {
    fn wait_for(&self, total: usize) -> (usize, usize) {
        let mut c = self.counts.lock().unwrap();
        while c.0 + c.1 < total {
            c = self.cv.wait(c).unwrap();
        }
        *c
    }
}

struct CountJob(Arc<Done>);

impl Job for CountJob {
    fn run(self) {
        self.0.counts.lock().unwrap().0 += 1;
        self.0.cv.notify_all();
    }

    fn cancel(self) {
        self.0.counts.lock().unwrap().1 += 1;
        self.0.cv.notify_all();
    }
}

fn pool(keep_alive: Duration) -> Arc<Pool<CountJob>> {
    Arc::new(Pool::new(PoolConfig {
        cap: 1,
        keep_alive,
        name: "loom".into(),
        stack_size: None,
    }))
}

/// A second submission racing the only pool thread going idle after the
/// first (steps S1-S2 against I1-I3): the second job always runs.
#[test]
fn loom_blocking_submit_racing_idle() {
    loom::model(|| {
        let pool = pool(Duration::from_secs(3600));
        let done = Arc::new(Done::default());
        pool.submit(CountJob(done.clone()), None::<&NoEntry>);
        let (p2, d2) = (pool.clone(), done.clone());
        let submitter = thread::spawn(move || p2.submit(CountJob(d2), None::<&NoEntry>));
        assert_eq!(done.wait_for(2), (2, 0));
        submitter.join().unwrap();
        // A job leaves `in_flight` just after it signalled.
        while pool.in_flight() > 0 {
            thread::yield_now();
        }
        pool.shutdown();
    });
}

/// A submission racing the only thread retiring (a zero keep-alive makes
/// it retire as soon as it is idle, step I4): either the thread is claimed
/// and runs the job, or the submitter sees it gone and starts another.
#[test]
fn loom_blocking_submit_racing_retire() {
    loom::model(|| {
        let pool = pool(Duration::ZERO);
        let done = Arc::new(Done::default());
        pool.submit(CountJob(done.clone()), None::<&NoEntry>);
        let (p2, d2) = (pool.clone(), done.clone());
        let submitter = thread::spawn(move || p2.submit(CountJob(d2), None::<&NoEntry>));
        assert_eq!(done.wait_for(2), (2, 0));
        submitter.join().unwrap();
        pool.shutdown();
    });
}

/// A submission racing shutdown: every job is run or cancelled exactly
/// once, and the pool's threads all exit.
#[test]
fn loom_blocking_submit_racing_shutdown() {
    loom::model(|| {
        let pool = pool(Duration::from_secs(3600));
        let done = Arc::new(Done::default());
        pool.submit(CountJob(done.clone()), None::<&NoEntry>);
        let (p2, d2) = (pool.clone(), done.clone());
        let submitter = thread::spawn(move || p2.submit(CountJob(d2), None::<&NoEntry>));
        pool.shutdown();
        submitter.join().unwrap();
        let (ran, cancelled) = done.wait_for(2);
        assert_eq!(ran + cancelled, 2);
        while pool.in_flight() > 0 || pool.threads() > 0 {
            thread::yield_now();
        }
    });
}
