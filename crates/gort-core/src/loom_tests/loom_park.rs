//! Parking: the wake-up protocol between an M going idle and a submitter,
//! on the real `Idle` and `MPark`. Loom reports a deadlock if a parked M can
//! miss the hand-off that should wake it.

use loom::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Release, SeqCst},
};
use loom::sync::Arc;
use loom::thread;

use crate::loom::fence;
use crate::sched::idle::{Idle, MPark, HOLDER_KICKED};

/// Steps 1-3 of `Worker::stop` racing a submitter's push + `wakep`: either
/// the M's re-check sees the work, or the submitter decides to start an M.
/// Never neither (that would strand the task with every M parked).
#[test]
fn loom_idle_p_racing_wakep() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        assert_eq!(idle.take_p(), Some(0));
        idle.nmspinning.store(1, SeqCst); // the M is spinning
        let work = Arc::new(AtomicBool::new(false));

        let (i2, w2) = (idle.clone(), work.clone());
        let submitter = thread::spawn(move || {
            w2.store(true, SeqCst); // publish (a queue push)
            i2.want_spinning_m() // wakep's decision
        });

        // The M found nothing: steps 1, 2, 3.
        assert!(idle.put_p(0, || false));
        idle.drop_spinning();
        fence(SeqCst);
        let saw_work = work.load(SeqCst);

        let started_m = submitter.join().unwrap();
        assert!(saw_work || started_m, "work published but no M will run it");
    });
}

/// Step 5 racing `startm`: an M pushing itself on `midle` and parking, while
/// another thread takes it off `midle` and hands it a P. The M always wakes
/// with that P.
#[test]
fn loom_park_m_racing_unpark() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        let p = idle.take_p().unwrap();
        let park = std::sync::Arc::new(MPark::new());
        let (i2, park2) = (idle.clone(), park.clone());
        let m = thread::spawn(move || i2.park_m(&park2));
        loop {
            let m = idle.lock().midle.pop();
            match m {
                Some(m) => {
                    m.unpark_with(p, true);
                    break;
                }
                None => thread::yield_now(),
            }
        }
        assert_eq!(m.join().unwrap(), Some((p, true)));
    });
}

/// Shutdown racing an M about to park: it never sleeps through it.
#[test]
fn loom_park_m_racing_shutdown() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        let park = std::sync::Arc::new(MPark::new());
        let (i2, park2) = (idle.clone(), park.clone());
        let m = thread::spawn(move || i2.park_m(&park2));
        idle.exit_all();
        assert_eq!(m.join().unwrap(), None);
    });
}

/// The netpoll holder (`Worker::netpoll_holding_p`) racing a submitter:
/// the only P is held by an M about to block in the netpoller. Either the
/// holder's re-check after `holder_sleeps` sees the work, or the
/// submitter's `wakep` (`want_spinning_m`, then `want_holder_kick`)
/// decides to kick it. The work is published with Release and read with
/// Acquire, as a queue does: only the fences order it against the flag.
#[test]
fn loom_holder_racing_wakep() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        assert_eq!(idle.take_p(), Some(0)); // the holder's P
        let work = Arc::new(AtomicBool::new(false));

        let (i2, w2) = (idle.clone(), work.clone());
        let submitter = thread::spawn(move || {
            w2.store(true, Release);
            i2.want_spinning_m() || i2.want_holder_kick()
        });

        idle.holder_sleeps();
        let saw_work = work.load(Acquire);

        let kicked = submitter.join().unwrap();
        assert!(
            saw_work || kicked,
            "work published but the holder sleeps on"
        );
        if kicked {
            assert_eq!(idle.np_holder.load(SeqCst), HOLDER_KICKED);
        }
    });
}

/// The holder racing an M that comes back from a syscall to find its P
/// retaken (`Idle::wait_for_p`, whose `queued` hook kicks the holder).
/// Either the holder sees that M on `exitq` before it sleeps, or the M's
/// kick reaches it; then the holder gives its P up and the M gets it.
/// (A lost kick leaves the holder spinning below: loom fails the model.)
#[test]
fn loom_holder_racing_exitsyscall() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        assert_eq!(idle.take_p(), Some(0)); // the holder's P
        let park = std::sync::Arc::new(MPark::new());

        let (i2, park2) = (idle.clone(), park.clone());
        let m = thread::spawn(move || {
            i2.wait_for_p(&park2, || {
                i2.take_holder_kick();
            })
        });

        idle.holder_sleeps();
        if !idle.exitq_waiting() {
            // Asleep in the netpoller until kicked.
            while idle.np_holder.load(SeqCst) != HOLDER_KICKED {
                thread::yield_now();
            }
        }
        idle.holder_wakes();
        // Back in `find_runnable`, `netpoll_holding_p` sees `exitq` and the
        // M stops: its P goes to the waiting M, not to `pidle`.
        assert!(idle.exitq_waiting());
        assert!(idle.put_p(0, || false));
        assert_eq!(idle.npidle.load(SeqCst), 0);
        assert_eq!(m.join().unwrap(), Some(0));
    });
}
