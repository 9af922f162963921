//! TCP behaviour: echo under load, half-close, reset, zero-length reads,
//! short reads that forget readiness, halves used from two tasks, refused
//! connects, close waking a waiter, and the `TcpSocket` builder.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort_core::io::Closed;
use gort_core::{Builder, Runtime};
use gort_net::{TcpListener, TcpSocket, TcpStream};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

fn is_closed(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|e| e.is::<Closed>())
}

/// Hundreds of connections at once, each several round trips; exact byte
/// totals on both sides.
#[test]
fn echo_hundreds_of_connections() {
    const CONNS: usize = 300;
    const TRIPS: usize = 10;
    const MSG: usize = 100;
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gort_core::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..CONNS {
                let (mut s, _) = listener.accept().await.unwrap();
                conns.push(gort_core::spawn(async move {
                    let mut buf = [0u8; 512];
                    let mut echoed = 0;
                    loop {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return echoed;
                        }
                        s.write_all(&buf[..n]).await.unwrap();
                        echoed += n;
                    }
                }));
            }
            let mut total = 0;
            for c in conns {
                total += c.await.unwrap();
            }
            total
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                gort_core::spawn(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    let msg = [i as u8; MSG];
                    let mut got = [0u8; MSG];
                    for _ in 0..TRIPS {
                        c.write_all(&msg).await.unwrap();
                        c.read_exact(&mut got).await.unwrap();
                        assert_eq!(got, msg);
                    }
                    c.close().await.unwrap();
                    assert_eq!(
                        c.read(&mut got).await.unwrap(),
                        0,
                        "server closes after EOF"
                    );
                    TRIPS * MSG
                })
            })
            .collect();
        let mut sent = 0;
        for c in clients {
            sent += c.await.unwrap();
        }
        assert_eq!(sent, CONNS * TRIPS * MSG);
        assert_eq!(server.await.unwrap(), CONNS * TRIPS * MSG);
    });
}

/// `shutdown(Write)`: the peer reads EOF and can still write back.
#[test]
fn half_close_peer_reads_eof_and_can_reply() {
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());

        client.write_all(b"request").await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut req = Vec::new();
        server.read_to_end(&mut req).await.unwrap();
        assert_eq!(req, b"request");
        assert_eq!(
            server.read(&mut [0u8; 4]).await.unwrap(),
            0,
            "EOF stays EOF"
        );

        server.write_all(b"response").await.unwrap();
        drop(server);
        let mut resp = Vec::new();
        client.read_to_end(&mut resp).await.unwrap();
        assert_eq!(resp, b"response");
    });
}

/// `SO_LINGER` 0 then drop sends a RST: the peer's read fails with
/// `ConnectionReset`.
#[test]
fn reset_surfaces_as_connection_reset() {
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        server.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(server.linger().unwrap(), Some(Duration::ZERO));
        drop(server);
        let err = client.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    });
}

/// A zero-length read returns `Ok(0)` at once, with no data pending.
#[test]
fn zero_length_read_returns_at_once() {
    rt(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let _server = listener.accept().await.unwrap();
        // No timeout needed to prove it: a wait here would never end, as
        // nobody writes; `now_or_never` shows it is ready on first poll.
        let r = futures::FutureExt::now_or_never(client.read(&mut []));
        assert_eq!(r.map(|r| r.unwrap()), Some(0));
        assert_eq!(client.write(&[]).await.unwrap(), 0);
    });
}

/// Owned halves in two tasks: one streams data out while the other reads
/// the echo; exact totals. Then `reunite`.
/// A short read forgets the read readiness (the socket was drained), so
/// the next read parks without a syscall; data sent afterwards, by
/// another task while the reader waits or before it reads again, must
/// still wake it. Each step is bounded by a timeout.
#[test]
fn short_reads_then_more_data_still_wake_the_reader() {
    const ROUNDS: usize = 2_000;
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.set_nodelay(true).unwrap();
        server.set_nodelay(true).unwrap();
        let (go_tx, go_rx) = futures::channel::mpsc::unbounded::<usize>();
        let writer = gort_core::spawn(async move {
            let mut server = server;
            let mut go_rx = go_rx;
            use futures::StreamExt;
            while let Some(i) = go_rx.next().await {
                // Odd rounds: yield first, so the reader is (likely)
                // parked when the bytes land; even rounds: write at once.
                if i % 2 == 1 {
                    gort_core::yield_now().await;
                }
                server.write_all(&[i as u8; 7]).await.unwrap();
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..ROUNDS {
            go_tx.unbounded_send(i).unwrap();
            let n = gort_core::time::timeout(Duration::from_secs(10), client.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("round {i}: reader never woke"))
                .unwrap();
            // 7 bytes per round and one round at a time: always a short read.
            assert_eq!(&buf[..n], &[i as u8; 7][..n], "round {i}");
            if n < 7 {
                let mut rest = [0u8; 7];
                gort_core::time::timeout(
                    Duration::from_secs(10),
                    client.read_exact(&mut rest[n..]),
                )
                .await
                .unwrap_or_else(|_| panic!("round {i}: the rest never came"))
                .unwrap();
            }
        }
        drop(go_tx);
        writer.await.unwrap();
    });
}

#[test]
fn owned_halves_from_two_tasks() {
    const CHUNKS: usize = 200;
    const CHUNK: usize = 1000;
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gort_core::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = s.into_split();
            // An echo through the halves: copy read to write.
            futures::io::copy(&mut r, &mut w).await.unwrap()
        });
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = client.into_split();
        let writer = gort_core::spawn(async move {
            for i in 0..CHUNKS {
                w.write_all(&[i as u8; CHUNK]).await.unwrap();
            }
            w
        });
        let reader = gort_core::spawn(async move {
            let mut got = vec![0u8; CHUNKS * CHUNK];
            r.read_exact(&mut got).await.unwrap();
            for (i, chunk) in got.chunks(CHUNK).enumerate() {
                assert!(chunk.iter().all(|&b| b == i as u8));
            }
            r
        });
        let w = writer.await.unwrap();
        let r = reader.await.unwrap();
        let mut stream = r.reunite(w).unwrap();
        stream.close().await.unwrap();
        assert_eq!(server.await.unwrap(), (CHUNKS * CHUNK) as u64);
        assert_eq!(stream.read(&mut [0u8; 1]).await.unwrap(), 0);
    });
}

/// Borrowed halves: reading and writing concurrently in one task through
/// `join`.
#[test]
fn borrowed_halves_read_and_write_concurrently() {
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gort_core::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = TcpStream::split(&mut s);
            futures::io::copy(&mut r, &mut w).await.unwrap()
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        let data = vec![7u8; 256 * 1024];
        let (mut r, mut w) = TcpStream::split(&mut client);
        let send = async {
            w.write_all(&data).await.unwrap();
            w.close().await.unwrap();
        };
        let mut got = Vec::new();
        let recv = r.read_to_end(&mut got);
        let ((), n) = futures::join!(send, recv);
        assert_eq!(n.unwrap(), data.len());
        assert_eq!(got, data);
        assert_eq!(server.await.unwrap(), data.len() as u64);
    });
}

#[test]
fn reunite_rejects_halves_of_different_streams() {
    rt(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (r1, _w1) = TcpStream::connect(addr).await.unwrap().into_split();
        let (_r2, w2) = TcpStream::connect(addr).await.unwrap().into_split();
        assert!(r1.reunite(w2).is_err());
    });
}

/// Nothing listens on the port: `ConnectionRefused`.
#[test]
fn connect_to_closed_port_is_refused() {
    rt(1).block_on(async {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect(addr)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    });
}

/// A task parked in a read wakes with `Closed` when another task closes
/// the stream through its other half; a parked accept the same with the
/// listener.
#[test]
fn close_wakes_parked_reader_and_acceptor() {
    rt(2).block_on(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (_server, _) = listener.accept().await.unwrap();
        let (mut r, w) = client.into_split();
        let reader = gort_core::spawn(async move { r.read(&mut [0u8; 8]).await });
        let acceptor = gort_core::spawn({
            let listener = listener.clone();
            async move { listener.accept().await.map(|_| ()) }
        });
        gort_core::time::sleep(Duration::from_millis(20)).await;
        assert!(!reader.is_finished() && !acceptor.is_finished());
        w.close_shared();
        listener.close();
        assert!(is_closed(&reader.await.unwrap().unwrap_err()));
        assert!(is_closed(&acceptor.await.unwrap().unwrap_err()));
        assert!(is_closed(&listener.accept().await.map(|_| ()).unwrap_err()));
    });
}

/// Options through socket2, and `try_read` / `readable` / `peek`.
#[test]
fn socket_builder_options_and_try_io() {
    rt(2).block_on(async {
        let listener = TcpSocket::new_v4()
            .unwrap()
            .set_reuseaddr(true)
            .unwrap()
            .set_reuseport(true)
            .unwrap()
            .set_recv_buffer_size(64 * 1024)
            .unwrap()
            .bind("127.0.0.1:0".parse().unwrap())
            .unwrap()
            .listen(128)
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpSocket::new_for_addr(addr)
            .unwrap()
            .set_nodelay(true)
            .unwrap()
            .set_keepalive(true)
            .unwrap()
            .set_send_buffer_size(64 * 1024)
            .unwrap()
            .connect(addr)
            .await
            .unwrap();
        assert!(client.nodelay().unwrap());
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());
        client.set_ttl(33).unwrap();
        assert_eq!(client.ttl().unwrap(), 33);

        let (server, _) = listener.accept().await.unwrap();
        assert_eq!(
            server.try_read(&mut [0u8; 4]).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        client.writable().await.unwrap();
        assert_eq!(client.try_write(b"abc").unwrap(), 3);
        let mut buf = [0u8; 3];
        assert_eq!(server.peek(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf, b"abc");
        let n = loop {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"abc");
    });
}

/// `bind` and `connect` resolve names (off the P).
#[test]
fn bind_and_connect_by_name() {
    rt(1).block_on(async {
        let listener = TcpListener::bind("localhost:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ip = listener.local_addr().unwrap().ip();
        let c = TcpStream::connect((ip.to_string().as_str(), port))
            .await
            .unwrap();
        let (_s, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
    });
}

#[test]
fn from_std_wraps_blocking_sockets() {
    rt(1).block_on(async {
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_l.local_addr().unwrap();
        let listener = TcpListener::from_std(std_l).unwrap();
        let mut c = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        c.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"x");
    });
}

#[test]
fn sockets_need_a_runtime() {
    let err = futures::executor::block_on(TcpListener::bind("127.0.0.1:0")).unwrap_err();
    assert!(err.to_string().contains("needs a gort runtime"), "{err}");
}

/// `poll_read_uninit`: waits while nothing is there, reads what the peer
/// wrote into uninitialised memory (short reads included, so readiness is
/// forgotten and re-armed as with `poll_read`), then reports end of stream
/// as `Ok(0)`.
#[test]
fn poll_read_uninit_reads_waits_and_sees_eof() {
    use std::mem::MaybeUninit;
    const ROUNDS: usize = 500;
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let writer = gort_core::spawn(async move {
            let mut server = server;
            for i in 0..ROUNDS {
                if i % 2 == 1 {
                    gort_core::yield_now().await;
                }
                server.write_all(&(i as u32).to_le_bytes()).await.unwrap();
            }
            server.close().await.unwrap();
        });
        let mut got: Vec<u8> = Vec::new();
        let mut buf = [MaybeUninit::<u8>::uninit(); 1024];
        loop {
            let n = gort_core::time::timeout(
                Duration::from_secs(10),
                std::future::poll_fn(|cx| client.poll_read_uninit(cx, &mut buf)),
            )
            .await
            .expect("the reader never woke")
            .unwrap();
            if n == 0 {
                break;
            }
            // SAFETY: `poll_read_uninit` initialised the first `n` bytes.
            got.extend_from_slice(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) });
        }
        writer.await.unwrap();
        let want: Vec<u8> = (0..ROUNDS as u32).flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(got, want, "bytes lost, duplicated or reordered");
        // An empty buffer returns at once.
        let n = std::future::poll_fn(|cx| client.poll_read_uninit(cx, &mut []))
            .await
            .unwrap();
        assert_eq!(n, 0);
    });
}

/// An echo server on a runtime, and a plain-thread client making `trips`
/// one-byte round trips on one connection, back to back. Returns the
/// runtime's count of netpoll spins that found work.
fn closed_loop_spins(rt: &Runtime, trips: usize) -> u64 {
    use std::io::{Read, Write};
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt.spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut b = [0u8; 1];
        while s.read_exact(&mut b).await.is_ok() {
            s.write_all(&b).await.unwrap();
        }
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    for i in 0..trips {
        let mut b = [i as u8];
        c.write_all(&b).unwrap();
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i as u8, "round trip {i} came back wrong");
    }
    drop(c);
    rt.block_on(server).unwrap();
    rt.metrics().netpoll_spins
}

/// The M about to block in the netpoller first polls without blocking
/// while its sleeps are short (`Builder::netpoll_spin`): under a client
/// that sends its next request as soon as the reply comes, it finds
/// requests that way. Told not to, it never does. Every round trip comes
/// back either way. The limit here is 20 ms, not the default 50 µs, so
/// that "short" holds on a loaded machine too, where the client thread
/// may wait milliseconds for a CPU.
#[test]
fn the_netpoll_holder_spins_under_load_unless_told_not_to() {
    const TRIPS: usize = 2_000;
    let on = Builder::new()
        .procs(1)
        .netpoll_spin(Duration::from_millis(20))
        .build()
        .unwrap();
    assert!(
        closed_loop_spins(&on, TRIPS) > 0,
        "no request of {TRIPS} was found by polling without blocking"
    );
    let off = Builder::new()
        .procs(1)
        .netpoll_spin(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(closed_loop_spins(&off, TRIPS), 0);
}

/// CPU time, in clock ticks, of this process's threads whose names start
/// with `prefix`.
#[cfg(target_os = "linux")]
fn threads_cpu_ticks(prefix: &str) -> u64 {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // After the `(comm)` field: state is the 1st, utime the 12th, stime the 13th.
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    ticks
}

/// Once the load stops, the netpoll spin (on by default) turns itself
/// off: a runtime left with a listener open and nothing to do uses next to
/// no CPU, where a holder that kept spinning would use a whole CPU.
#[cfg(target_os = "linux")]
#[test]
fn an_idle_runtime_with_open_sockets_does_not_spin() {
    const PREFIX: &str = "idle-spin-m";
    // The 20 ms limit makes the load spin on a loaded machine too (see
    // the test above); idle, the holder spins at most once more, 20 ms.
    let rt = Builder::new()
        .procs(2)
        .thread_name(PREFIX)
        .netpoll_spin(Duration::from_millis(20))
        .build()
        .unwrap();
    // Keeps a source registered, so the last M waits in the netpoller.
    let open = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    assert!(closed_loop_spins(&rt, 2_000) > 0, "the load never spun");
    std::thread::sleep(Duration::from_millis(50));
    let before = threads_cpu_ticks(PREFIX);
    std::thread::sleep(Duration::from_millis(500));
    let used = threads_cpu_ticks(PREFIX) - before;
    // Clock ticks are usually 10 ms: 500 ms of spinning would be ~50, the
    // one last spin at most 2.
    assert!(
        used <= 10,
        "the idle runtime's Ms used {used} clock ticks in 500 ms"
    );
    drop(open);
}
