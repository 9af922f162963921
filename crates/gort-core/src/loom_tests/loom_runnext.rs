//! `runnext`: the owner's put and take racing a thief on its last pass;
//! the timer-ready queue: the owner firing and running racing a thief.

use crate::loom::deque::{Injector, Worker as Deque};
use loom::thread;

use super::support::Queue;
use crate::sched::p::P;
use crate::task::{new_task, Id, Notified};

fn task(q: &std::sync::Arc<Queue>, id: u64) -> (crate::task::Task, Notified) {
    let (t, n, raw) = new_task(async {}, q.clone(), Id(id), std::panic::Location::caller());
    drop(crate::task::JoinHandle::<()>::new(raw));
    (t, n)
}

/// The ids the owner and the thief took, together, in order.
fn sorted_ids(mine: &[crate::task::Id], theirs: &[crate::task::Id]) -> Vec<u64> {
    let mut all: Vec<u64> = mine.iter().chain(theirs).map(|id| id.as_u64()).collect();
    all.sort();
    all
}

/// One steal from `p` (with `runnext` on the last pass when asked), and
/// every task it brought: their ids.
fn steal_all(p: &P, steal_runnext: bool) -> Vec<crate::task::Id> {
    let dest = Deque::new_fifo();
    let mut got = Vec::new();
    if let Some(t) = p.steal_into(&dest, steal_runnext) {
        got.push(t.header().id);
    }
    while let Some(t) = dest.pop() {
        got.push(t.header().id);
    }
    got
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
        let thief = thread::spawn(move || steal_all(&p2, true));
        // SAFETY: this thread is the owner of P for the whole model.
        let owned = unsafe { p.owned() };
        let mut mine = Vec::new();
        owned.runqput(n1, true, &inject);
        // Displaces n1 (if not stolen) into the queue.
        owned.runqput(n2, true, &inject);
        while let Some((t, _)) = owned.runqget() {
            mine.push(t.header().id);
        }
        let theirs = thief.join().unwrap();
        let all = sorted_ids(&mine, &theirs);
        assert_eq!(all, vec![1, 2], "owner {mine:?} thief {theirs:?}");
        drop((t1, t2));
    });
}

/// The timer-ready path: the owner fires timers onto its timer-ready
/// queue and runs them while a thief on another P steals (and `has_work`
/// shows them to sysmon and the parking re-check). Every readied task runs
/// exactly once, by one of the two; none stays behind unseen.
#[test]
fn loom_timer_ready_owner_vs_thief() {
    loom::model(|| {
        let q = std::sync::Arc::new(Queue::default());
        let p = std::sync::Arc::new(P::new(0));
        let (t1, n1) = task(&q, 1);
        let (t2, n2) = task(&q, 2);
        let (t3, n3) = task(&q, 3);
        // SAFETY: this thread is the owner of P for the whole model.
        let owned = unsafe { p.owned() };
        assert!(owned.timer_ready_put(n1).is_ok());
        assert!(owned.timer_ready_put(n2).is_ok());
        assert!(p.has_work(), "timer-readied tasks are visible to others");
        let p2 = p.clone();
        let thief = thread::spawn(move || steal_all(&p2, false));
        let mut mine = Vec::new();
        // A timer fires while the thief steals.
        assert!(owned.timer_ready_put(n3).is_ok());
        while let Some(t) = owned.timer_ready_get() {
            mine.push(t.header().id);
        }
        let theirs = thief.join().unwrap();
        let all = sorted_ids(&mine, &theirs);
        assert_eq!(all, vec![1, 2, 3], "owner {mine:?} thief {theirs:?}");
        assert!(!p.has_work());
        drop((t1, t2, t3));
    });
}
