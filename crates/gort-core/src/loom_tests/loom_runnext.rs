//! `runnext`: the owner's put and take racing a thief on its last pass.

use crossbeam_deque::{Injector, Worker as Deque};
use loom::thread;

use super::support::Queue;
use crate::sched::p::P;
use crate::task::{new_task, Id, Notified};

fn task(q: &std::sync::Arc<Queue>, id: u64) -> (crate::task::Task, Notified) {
    let (t, n, raw) = new_task(async {}, q.clone(), Id(id), std::panic::Location::caller());
    drop(crate::task::JoinHandle::<()>::new(raw));
    (t, n)
}

/// Whatever the interleaving, every task put on the P is taken exactly once
/// (by the owner or the thief), and none is lost.
#[test]
fn loom_runnext_owner_vs_thief() {
    loom::model(|| {
        let q = std::sync::Arc::new(Queue::default());
        let p = std::sync::Arc::new(P::new(0));
        let inject = Injector::new();
        let (t1, n1) = task(&q, 1);
        let (t2, n2) = task(&q, 2);
        p.in_poll.store(true, std::sync::atomic::Ordering::Relaxed);
        let p2 = p.clone();
        let thief = thread::spawn(move || {
            let dest = Deque::new_fifo();
            let mut got = Vec::new();
            if let Some(t) = p2.steal_into(&dest, true) {
                got.push(t.header().id);
            }
            while let Some(t) = dest.pop() {
                got.push(t.header().id);
            }
            got
        });
        // SAFETY: this thread is the owner of P for the whole model.
        let mut mine = Vec::new();
        unsafe {
            p.runqput(n1, true, &inject);
            // Displaces n1 (if not stolen) into the queue.
            p.runqput(n2, true, &inject);
            while let Some((t, _)) = p.runqget() {
                mine.push(t.header().id);
            }
        }
        let theirs = thief.join().unwrap();
        let mut all: Vec<u64> = mine
            .iter()
            .chain(theirs.iter())
            .map(|id| id.as_u64())
            .collect();
        all.sort();
        assert_eq!(all, vec![1, 2], "owner {mine:?} thief {theirs:?}");
        drop((t1, t2));
    });
}
