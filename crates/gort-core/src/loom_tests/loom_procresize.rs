//! `set_gomaxprocs`'s lists (`procresize.rs`) on the real `Idle`: a P
//! past `gomaxprocs` is let go by its M while a resize runs, and the two
//! decide under the scheduler lock, so the P ends in exactly one place:
//! held, on `pidle` (only below `nprocs`), or off (only at or past it),
//! and the counters agree with the lists. Loom explores every order of the
//! M's unlocked hint read, its `put_idle`, and the resize.

use loom::sync::Arc;
use loom::thread;

use crate::loom::Ordering::SeqCst;
use crate::sched::idle::Idle;

/// Where P `p` is, asserting it is in at most one place and that the
/// counters match the lists.
fn place_of(idle: &Idle, p: usize) -> (bool, bool) {
    let s = idle.lock();
    let on_pidle = s.pidle.contains(&p);
    let off = s.off.get(p).copied().unwrap_or(false);
    assert!(!(on_pidle && off), "P{p} both idle and off");
    assert_eq!(idle.npidle.load(SeqCst), s.pidle.len(), "npidle");
    assert_eq!(
        idle.noff.load(SeqCst),
        s.off.iter().filter(|o| **o).count(),
        "noff"
    );
    let n = idle.nprocs();
    assert!(
        s.pidle.iter().all(|&q| q < n),
        "pidle holds a P past nprocs"
    );
    (on_pidle, off)
}

/// The M holding P1 after a shrink to 1 lets it go (`find_runnable` step
/// 0: the hint, then `put_idle` under the lock) while a grow back to 2
/// runs. Whatever the order, P1 is not left off once `nprocs` is 2 (an off
/// P below `nprocs` would never run again), and it is not on two lists.
/// Checked: a `put_idle` that sends the P off on the M's unlocked hint,
/// not re-reading `nprocs` under the lock, fails this model.
#[test]
fn loom_procresize_retire_racing_grow() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        // An M holds each P; then P0's goes idle.
        assert_eq!(idle.take_p(), Some(0));
        assert_eq!(idle.take_p(), Some(1));
        idle.lock().put_idle(&idle, 0);
        // The shrink: P1 is held, so nothing goes off yet.
        assert!(idle.resize(1, 2).is_empty());

        let i2 = idle.clone();
        let grower = thread::spawn(move || i2.resize(2, 2));

        // The M's step 0.
        let retired = 1 >= idle.nprocs();
        if retired {
            idle.lock().put_idle(&idle, 1);
        }

        assert!(grower.join().unwrap().is_empty());
        assert_eq!(idle.nprocs(), 2);
        let (on_pidle, off) = place_of(&idle, 1);
        assert!(!off, "P1 is off below nprocs");
        // Retired: back on pidle. Not retired (the hint already said 2):
        // the M still holds it.
        assert_eq!(on_pidle, retired);
    });
}

/// A shrink to 1 racing an M taking P1 off `pidle` (`take_p`, as a
/// woken M does): either the M holds P1 (and will retire it at its next
/// pass) or the shrink sent it off, never both, never on `pidle`.
#[test]
fn loom_procresize_shrink_racing_take_p() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        let i2 = idle.clone();
        let shrinker = thread::spawn(move || i2.resize(1, 2));
        let took = idle.take_p();
        let off_now = shrinker.join().unwrap();
        let (on_pidle, off) = place_of(&idle, 1);
        assert!(!on_pidle, "P1 on pidle past nprocs");
        match took {
            Some(1) => assert!(!off && off_now.is_empty(), "P1 held and off"),
            Some(0) => assert!(off && off_now == [1]),
            other => panic!("took {other:?}"),
        }
        // The held P, let go, goes off too.
        if took == Some(1) {
            idle.lock().put_idle(&idle, 1);
            assert!(place_of(&idle, 1).1);
        }
    });
}
