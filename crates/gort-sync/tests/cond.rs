//! Cond on gort's runtime: Go's sync/cond_test.go behaviours in our own
//! words (TestCondSignal: each signal wakes one; TestCondBroadcast: one
//! broadcast wakes all; no lost wake-up between unlock and wait).

use std::sync::Arc;

use gort_core::Builder;
use gort_sync::{Cond, Mutex};

struct Shared {
    m: Mutex<State>,
    c: Cond,
}

#[derive(Default)]
struct State {
    waiting: usize,
    woken: usize,
    generation: u64,
}

#[test]
fn signal_wakes_one_at_a_time() {
    const N: usize = 8;
    let rt = Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let sh = Arc::new(Shared {
            m: Mutex::new(State::default()),
            c: Cond::new(),
        });
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let sh = sh.clone();
                gort_core::spawn(async move {
                    let mut g = sh.m.lock().await;
                    g.waiting += 1;
                    let gen = g.generation;
                    while g.generation == gen {
                        g = sh.c.wait(g).await;
                    }
                    g.woken += 1;
                })
            })
            .collect();
        // Wait until all are parked in wait (they registered before
        // unlocking, so a signal now cannot be lost).
        loop {
            let g = sh.m.lock().await;
            if g.waiting == N {
                break;
            }
            drop(g);
            gort_core::yield_now().await;
        }
        for i in 1..=N {
            {
                let mut g = sh.m.lock().await;
                g.generation += 1;
                sh.c.signal();
            }
            // Exactly one more wakes (the rest see a new generation only if
            // woken, and nobody else is).
            loop {
                let g = sh.m.lock().await;
                assert!(g.woken <= i, "a signal woke more than one");
                if g.woken == i {
                    break;
                }
                drop(g);
                gort_core::yield_now().await;
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn broadcast_wakes_all() {
    const N: usize = 16;
    let rt = Builder::new().procs(4).build().unwrap();
    rt.block_on(async {
        let sh = Arc::new(Shared {
            m: Mutex::new(State::default()),
            c: Cond::new(),
        });
        for round in 1..=5u64 {
            let tasks: Vec<_> = (0..N)
                .map(|_| {
                    let sh = sh.clone();
                    gort_core::spawn(async move {
                        let mut g = sh.m.lock().await;
                        g.waiting += 1;
                        while g.generation < round {
                            g = sh.c.wait(g).await;
                        }
                        g.woken += 1;
                    })
                })
                .collect();
            loop {
                let g = sh.m.lock().await;
                if g.waiting == N {
                    break;
                }
                drop(g);
                gort_core::yield_now().await;
            }
            {
                let mut g = sh.m.lock().await;
                g.generation = round;
                g.waiting = 0;
                g.woken = 0;
            }
            sh.c.broadcast();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(sh.m.lock().await.woken, N);
        }
    });
}
