//! A server that stops leaves nothing behind: no task (num_goroutines is
//! 0 before the runtime is dropped) and no descriptor (the process's
//! `/proc/self/fd` count is what it was before the runtime existed).
//!
//! Alone in its test binary: the descriptor count is process-wide, and a
//! test running beside it would open descriptors of its own.
#![cfg(target_os = "linux")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort_net::{TcpListener, TcpStream};

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn server_shutdown_leaves_no_task_and_no_descriptor() {
    const CONNS: usize = 50;
    let before = fd_count();
    let rt = gort_core::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        // The runtime's own: the epoll instance, its clone, the waker.
        let with_rt = fd_count();
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let server = gort_core::spawn({
            let listener = listener.clone();
            async move {
                let mut handlers = Vec::new();
                while let Ok((mut s, _)) = listener.accept().await {
                    handlers.push(gort_core::spawn(async move {
                        let mut buf = [0u8; 64];
                        let mut n_total = 0;
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                return n_total;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                            n_total += n;
                        }
                    }));
                }
                let mut total = 0;
                for h in handlers {
                    total += h.await.unwrap();
                }
                total
            }
        });
        let mut clients = Vec::new();
        for i in 0..CONNS {
            let mut c = TcpStream::connect(addr).await.unwrap();
            let msg = [i as u8; 10];
            c.write_all(&msg).await.unwrap();
            let mut got = [0u8; 10];
            c.read_exact(&mut got).await.unwrap();
            assert_eq!(got, msg);
            clients.push(c);
        }
        assert_eq!(
            fd_count(),
            with_rt + 2 * CONNS + 1,
            "both ends of each connection, and the listener"
        );
        listener.close();
        drop(clients);
        assert_eq!(server.await.unwrap(), CONNS * 10);
        drop(listener);
        // A finished task leaves the runtime's task list just after it
        // completes its JoinHandle: give that a bounded moment.
        let t0 = Instant::now();
        while gort_core::runtime::num_goroutines() != 0 && t0.elapsed() < Duration::from_secs(2) {
            gort_core::yield_now().await;
        }
        assert_eq!(
            gort_core::runtime::num_goroutines(),
            0,
            "{}",
            gort_core::runtime::dump()
        );
        // Every socket closed when its owner dropped, before the runtime.
        assert_eq!(fd_count(), with_rt, "sockets left open");
    });
    drop(rt);
    assert_eq!(
        fd_count(),
        before,
        "descriptors left after the runtime was dropped"
    );
}
