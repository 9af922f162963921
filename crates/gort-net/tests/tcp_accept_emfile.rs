//! Accept under descriptor exhaustion: the server neither crashes, nor
//! returns the error, nor spins; it keeps serving its open connections
//! and resumes accepting once descriptors free up.
//!
//! The test re-executes itself in a child process whose `RLIMIT_NOFILE`
//! is 64 (`ulimit -n` in `sh`), so exhausting descriptors cannot disturb
//! other tests. Descriptors are used up deterministically with
//! `/dev/null` handles ("ballast"), then exactly one is freed for a
//! client socket, so the server's `accept` is the call that hits
//! `EMFILE`.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort_core::time::{sleep, timeout};
use gort_net::{TcpListener, TcpStream};

const CHILD_ENV: &str = "GORT_NET_EMFILE_CHILD";
const EMFILE: i32 = 24;

#[test]
fn accept_survives_descriptor_exhaustion() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            r#"ulimit -n 64 && exec "$0" --exact accept_survives_descriptor_exhaustion --nocapture --test-threads=1"#,
        )
        .arg(&exe)
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- child stdout\n{stdout}\n--- child stderr\n{stderr}");
    assert!(out.status.success(), "child failed: {:?}", out.status);
    assert!(
        stdout.contains("EMFILE-SURVIVED"),
        "the child did not run the body"
    );
}

async fn round_trip(c: &mut TcpStream, msg: &[u8]) -> io::Result<()> {
    c.write_all(msg).await?;
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got).await?;
    assert_eq!(got, msg);
    Ok(())
}

fn child() {
    let rt = gort_core::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let server = gort_core::spawn({
            let listener = listener.clone();
            async move {
                let mut served = 0usize;
                let mut handlers = Vec::new();
                // Only `close` ends this loop: EMFILE is never returned.
                while let Ok((mut s, _)) = listener.accept().await {
                    served += 1;
                    handlers.push(gort_core::spawn(async move {
                        let mut buf = [0u8; 256];
                        loop {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if s.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }));
                }
                for h in handlers {
                    h.await.unwrap();
                }
                served
            }
        });

        // 1. A few connections, served.
        let mut clients = Vec::new();
        for _ in 0..5 {
            let mut c = TcpStream::connect(addr).await.unwrap();
            round_trip(&mut c, b"before").await.unwrap();
            clients.push(c);
        }

        // 2. Use up every descriptor.
        let mut ballast = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(f) => ballast.push(f),
                Err(e) if e.raw_os_error() == Some(EMFILE) => break,
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        println!("ballast: {} descriptors", ballast.len());
        assert!(!ballast.is_empty());

        // 3. Free exactly one, for a client socket: its connection lands
        //    in the backlog and the server's accept hits EMFILE.
        drop(ballast.pop());
        let mut pending = TcpStream::connect(addr).await.unwrap();
        pending.write_all(b"pending").await.unwrap();
        let t0 = Instant::now();
        while listener.accept_stats().exhausted == 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "accept never hit EMFILE"
            );
            sleep(Duration::from_millis(5)).await;
        }

        // 4. No spin: over 300 ms of exhaustion, the 5 ms..1 s backoff
        //    allows at most a handful of attempts (a busy loop would make
        //    thousands).
        let a0 = listener.accept_stats().attempts;
        sleep(Duration::from_millis(300)).await;
        let s1 = listener.accept_stats();
        println!("during exhaustion: {s1:?} (attempts before the 300 ms: {a0})");
        assert!(
            s1.attempts - a0 <= 10,
            "accept spun: {} attempts",
            s1.attempts - a0
        );
        assert!(s1.exhausted >= 2, "the backoff retried");

        // 5. Open connections are still served meanwhile.
        for c in &mut clients {
            round_trip(c, b"during").await.unwrap();
        }

        // 6. Free descriptors: the pending connection is accepted and
        //    echoed, and new ones are served.
        ballast.truncate(ballast.len().saturating_sub(20));
        let mut got = [0u8; 7];
        timeout(Duration::from_secs(5), pending.read_exact(&mut got))
            .await
            .expect("accepting resumed")
            .unwrap();
        assert_eq!(&got, b"pending");
        for _ in 0..5 {
            let mut c = TcpStream::connect(addr).await.unwrap();
            round_trip(&mut c, b"after").await.unwrap();
            clients.push(c);
        }
        let s2 = listener.accept_stats();
        println!("after recovery: {s2:?}");

        // 7. Stop: close the listener, hang up, count.
        listener.close();
        drop(clients);
        drop(pending);
        let served = server.await.unwrap();
        assert_eq!(served, 5 + 1 + 5);
        drop(ballast);
        println!("EMFILE-SURVIVED served={served}");
    });
}
