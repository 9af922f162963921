//! Channel behaviour on gort and on other executors.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use gort_core::{Builder, Runtime};
use gort_sync::{chan, SendError, TryRecvError, TrySendError};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

#[test]
fn unbuffered_ping_pong() {
    let rt = rt(2);
    rt.block_on(async {
        let (ping_tx, ping_rx) = chan::<u64>(0);
        let (pong_tx, pong_rx) = chan::<u64>(0);
        let echo = gort_core::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v + 1).await.unwrap();
            }
        });
        for i in 0..10_000 {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i + 1));
        }
        drop(ping_tx);
        echo.await.unwrap();
        assert_eq!(pong_rx.recv().await, None);
    });
}

#[test]
fn mpmc_every_value_exactly_once() {
    for cap in [0usize, 1, 7, 1024] {
        let rt = rt(2);
        let total = rt.block_on(async move {
            let (tx, rx) = chan::<u64>(cap);
            let producers: Vec<_> = (0..4u64)
                .map(|p| {
                    let tx = tx.clone();
                    gort_core::spawn(async move {
                        for i in 0..5000u64 {
                            tx.send(p * 1_000_000 + i).await.unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    gort_core::spawn(async move {
                        let mut sum = 0u64;
                        let mut n = 0u64;
                        while let Some(v) = rx.recv().await {
                            sum += v;
                            n += 1;
                        }
                        (sum, n)
                    })
                })
                .collect();
            for p in producers {
                p.await.unwrap();
            }
            let mut sum = 0;
            let mut n = 0;
            for c in consumers {
                let (s, k) = c.await.unwrap();
                sum += s;
                n += k;
            }
            (sum, n)
        });
        let want: u64 = (0..4u64)
            .map(|p| (0..5000u64).map(|i| p * 1_000_000 + i).sum::<u64>())
            .sum();
        assert_eq!(total, (want, 20_000), "cap {cap}");
    }
}

#[test]
fn close_drains_then_none_and_gives_values_back() {
    let rt = rt(1);
    rt.block_on(async {
        let (tx, rx) = chan::<i32>(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        assert!(tx.close());
        assert!(!tx.close(), "second close reports false");
        assert_eq!(tx.send(3).await, Err(SendError(3)));
        assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn blocked_sender_gets_value_back_on_close() {
    let rt = rt(2);
    rt.block_on(async {
        let (tx, rx) = chan::<String>(0);
        let tx2 = tx.clone();
        let h = gort_core::spawn(async move { tx2.send("x".to_string()).await });
        gort_core::time::sleep(std::time::Duration::from_millis(5)).await;
        rx.close();
        assert_eq!(h.await.unwrap(), Err(SendError("x".to_string())));
        drop(tx);
    });
}

#[test]
fn dropping_every_receiver_frees_blocked_senders() {
    let rt = rt(2);
    rt.block_on(async {
        let (tx, rx) = chan::<u8>(0);
        let h = gort_core::spawn(async move { tx.send(9).await });
        gort_core::time::sleep(std::time::Duration::from_millis(5)).await;
        drop(rx);
        assert_eq!(h.await.unwrap(), Err(SendError(9)));
    });
}

#[test]
fn unbuffered_try_ops_need_a_waiting_peer() {
    let rt = rt(2);
    rt.block_on(async {
        let (tx, rx) = chan::<u8>(0);
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let rx2 = rx.clone();
        let h = gort_core::spawn(async move { rx2.recv().await });
        // Wait until the receiver is parked, then try_send must succeed.
        let mut v = 2;
        loop {
            match tx.try_send(v) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => v = back,
                Err(e) => panic!("{e}"),
            }
            gort_core::yield_now().await;
        }
        assert_eq!(h.await.unwrap(), Some(2));
    });
}

#[test]
fn buffered_values_dropped_exactly_once() {
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let n = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::<D>(8);
    for _ in 0..5 {
        tx.try_send(D(n.clone())).unwrap();
    }
    drop(rx.try_recv().unwrap());
    assert_eq!(n.load(SeqCst), 1);
    drop(tx);
    drop(rx);
    assert_eq!(n.load(SeqCst), 5);
}

#[test]
fn works_on_other_executors_and_threads() {
    let (tx, rx) = chan::<u32>(0);
    let t = std::thread::spawn(move || {
        for i in 0..100 {
            tx.send_blocking(i).unwrap();
        }
    });
    let got: u32 = futures::executor::block_on(async {
        let mut s = 0;
        while let Some(v) = rx.recv().await {
            s += v;
        }
        s
    });
    t.join().unwrap();
    assert_eq!(got, 4950);
}

#[test]
fn stream_and_sink() {
    use futures::{SinkExt, StreamExt};
    let rt = rt(2);
    rt.block_on(async {
        let (mut tx, rx) = chan::<u32>(4);
        let h = gort_core::spawn(async move { rx.collect::<Vec<_>>().await });
        tx.send_all(&mut futures::stream::iter(0..10u32).map(Ok))
            .await
            .unwrap();
        drop(tx);
        assert_eq!(h.await.unwrap(), (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn len_cap_closed() {
    let (tx, rx) = chan::<u8>(3);
    assert_eq!((tx.len(), tx.cap(), tx.is_closed()), (0, 3, false));
    tx.try_send(1).unwrap();
    assert_eq!((rx.len(), rx.cap()), (1, 3));
    rx.close();
    assert!(tx.is_closed() && rx.is_closed());
}
