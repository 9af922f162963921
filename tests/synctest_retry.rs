//! The worked example of docs/guide/testing.md: retry with exponential
//! back-off, tested on the virtual clock and, for comparison, the way it is
//! tested without one (real sleeps, `#[ignore]`d: it takes 15 s).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::time::{now, sleep};

/// Calls `op` until it succeeds or has failed `tries` times, sleeping
/// `base`, `2 * base`, `4 * base`, ... (at most `cap`) between calls.
async fn retry<T, E, F, Fut>(tries: u32, base: Duration, cap: Duration, mut op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut delay = base;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt == tries => return Err(e),
            Err(_) => {
                sleep(delay).await;
                delay = (delay * 2).min(cap);
                attempt += 1;
            }
        }
    }
}

/// When an operation was called, as offsets from the first reading.
type Calls = Arc<Mutex<Vec<Duration>>>;
/// One call of the operation.
type Attempt = std::future::Ready<Result<&'static str, &'static str>>;

/// An operation that fails `failures` times, recording when it was called
/// (as offsets from `t0` on `clock`).
fn flaky(failures: u32, clock: fn() -> Instant) -> (Calls, impl FnMut() -> Attempt) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let t0 = clock();
    let mut n = 0;
    let op = move || {
        c.lock().unwrap().push(clock() - t0);
        n += 1;
        std::future::ready(if n > failures {
            Ok("done")
        } else {
            Err("busy")
        })
    };
    (calls, op)
}

const SEC: Duration = Duration::from_secs(1);

#[test]
fn backs_off_exponentially_on_the_virtual_clock() {
    gort::synctest::run(async {
        let (calls, op) = flaky(4, now);
        let r = retry(5, SEC, 30 * SEC, op).await;
        assert_eq!(r, Ok("done"));
        // Exactly 1, 2, 4 and 8 s apart: no tolerance needed.
        let secs = [0, 1, 3, 7, 15].map(Duration::from_secs);
        assert_eq!(*calls.lock().unwrap(), secs);
    });
}

#[test]
fn gives_up_after_the_last_try_and_caps_the_delay() {
    gort::synctest::run(async {
        let (calls, op) = flaky(u32::MAX, now);
        let r = retry(8, SEC, 10 * SEC, op).await;
        assert_eq!(r, Err("busy"));
        // 1, 2, 4, 8, then capped at 10, 10, 10.
        let secs = [0, 1, 3, 7, 15, 25, 35, 45].map(Duration::from_secs);
        assert_eq!(*calls.lock().unwrap(), secs);
    });
}

/// The test synctest replaces: the same check on the real clock, which
/// must sleep the whole 15 s and can only bound the gaps from below (a
/// loaded CI machine makes every sleep late).
#[test]
#[ignore = "real sleeps: 15 s of wall time (the comparison in docs/guide/testing.md)"]
fn backs_off_exponentially_on_the_real_clock() {
    let rt = gort::Runtime::new().unwrap();
    rt.block_on(async {
        let (calls, op) = flaky(4, Instant::now);
        let r = retry(5, SEC, 30 * SEC, op).await;
        assert_eq!(r, Ok("done"));
        let calls = calls.lock().unwrap();
        for (at, want) in calls.iter().zip([0, 1, 3, 7, 15]) {
            assert!(*at >= Duration::from_secs(want), "{at:?} < {want} s");
        }
    });
}
