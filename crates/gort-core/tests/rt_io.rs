//! The netpoller through the raw `Registration` API: tasks wait for
//! sockets without holding a P, wake-ups are not lost, close and shutdown
//! wake waiters with errors.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gort_core::io::{Closed, Direction, Registration, RuntimeShutdown};
use gort_core::{Builder, Runtime};
use mio::net::{TcpListener, TcpStream};
use mio::Interest;

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

struct Conn {
    stream: TcpStream,
    reg: Registration,
}

impl Conn {
    fn new(mut stream: TcpStream) -> io::Result<Conn> {
        let reg = Registration::new(&mut stream, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Conn { stream, reg })
    }

    async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let c = Conn::new(TcpStream::connect(addr)?)?;
        // Connected once writable without a pending error.
        c.reg.ready(Direction::Write).await?;
        if let Some(e) = c.stream.take_error()? {
            return Err(e);
        }
        Ok(c)
    }

    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.reg
            .async_io(Direction::Read, || (&self.stream).read(buf))
            .await
    }

    async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self
                .reg
                .async_io(Direction::Write, || (&self.stream).write(buf))
                .await?;
            buf = &buf[n..];
        }
        Ok(())
    }
}

async fn listen() -> io::Result<(TcpListener, Registration, SocketAddr)> {
    let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    let reg = Registration::new(&mut l, Interest::READABLE)?;
    let addr = l.local_addr()?;
    Ok((l, reg, addr))
}

/// Echo with many connections at once, each doing several round trips; an
/// exact byte count on every connection.
#[test]
fn echo_many_connections() {
    const CONNS: usize = 200;
    const TRIPS: usize = 20;
    let rt = rt(2);
    rt.block_on(async {
        let (listener, lreg, addr) = listen().await.unwrap();
        let server = gort_core::spawn(async move {
            for _ in 0..CONNS {
                let (s, _) = lreg
                    .async_io(Direction::Read, || listener.accept())
                    .await
                    .unwrap();
                gort_core::spawn(async move {
                    let c = Conn::new(s).unwrap();
                    let mut buf = [0u8; 1024];
                    loop {
                        let n = c.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        c.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let mut clients = Vec::new();
        for i in 0..CONNS {
            clients.push(gort_core::spawn(async move {
                let c = Conn::connect(addr).await.unwrap();
                let msg = [i as u8; 64];
                for _ in 0..TRIPS {
                    c.write_all(&msg).await.unwrap();
                    let mut got = 0;
                    let mut buf = [0u8; 64];
                    while got < msg.len() {
                        let n = c.read(&mut buf[got..]).await.unwrap();
                        assert!(n > 0, "early EOF");
                        got += n;
                    }
                    assert_eq!(buf, msg);
                }
                TRIPS * msg.len()
            }));
        }
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        assert_eq!(total, CONNS * TRIPS * 64);
        server.await.unwrap();
    });
}

/// A reader parked on a socket holds no P: with one P, another task keeps
/// running while it waits, and the reader still wakes.
#[test]
fn a_parked_reader_holds_no_p() {
    let rt = rt(1);
    rt.block_on(async {
        let (listener, lreg, addr) = listen().await.unwrap();
        let accept = gort_core::spawn(async move {
            let (s, _) = lreg
                .async_io(Direction::Read, || listener.accept())
                .await
                .unwrap();
            let c = Conn::new(s).unwrap();
            let mut buf = [0u8; 4];
            let n = c.read(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        let client = Conn::connect(addr).await.unwrap();
        for _ in 0..100 {
            gort_core::yield_now().await;
        }
        gort_core::time::sleep(Duration::from_millis(5)).await;
        client.write_all(b"ping").await.unwrap();
        assert_eq!(accept.await.unwrap(), b"ping");
    });
}

/// Readiness arriving while the reader is between `WouldBlock` and its
/// registration is never lost: many short exchanges with no slack.
#[test]
fn no_lost_wakeup_between_wouldblock_and_registration() {
    let rt = rt(2);
    rt.block_on(async {
        let (listener, lreg, addr) = listen().await.unwrap();
        let server = gort_core::spawn(async move {
            let (s, _) = lreg
                .async_io(Direction::Read, || listener.accept())
                .await
                .unwrap();
            let c = Conn::new(s).unwrap();
            let mut buf = [0u8; 1];
            for i in 0..5000u32 {
                let n = c.read(&mut buf).await.unwrap();
                assert_eq!(n, 1);
                assert_eq!(buf[0], i as u8);
                c.write_all(&buf).await.unwrap();
            }
        });
        let c = Conn::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        for i in 0..5000u32 {
            c.write_all(&[i as u8]).await.unwrap();
            assert_eq!(c.read(&mut buf).await.unwrap(), 1);
        }
        server.await.unwrap();
    });
}

/// Closing a registration wakes its waiter with `Closed`.
#[test]
fn close_wakes_the_waiter_with_an_error() {
    let rt = rt(2);
    rt.block_on(async {
        let (listener, lreg, _addr) = listen().await.unwrap();
        let lreg = Arc::new(lreg);
        let waiter = gort_core::spawn({
            let lreg = lreg.clone();
            async move {
                lreg.async_io(Direction::Read, || listener.accept())
                    .await
                    .map(|_| ())
            }
        });
        gort_core::time::sleep(Duration::from_millis(5)).await;
        lreg.close();
        let err = waiter.await.unwrap().unwrap_err();
        assert!(
            err.get_ref()
                .and_then(|e| e.downcast_ref::<Closed>())
                .is_some(),
            "{err}"
        );
    });
}

/// Dropping the runtime wakes nothing it would lose; a registration that
/// outlives it answers `RuntimeShutdown`.
#[test]
fn a_registration_outliving_its_runtime_errors() {
    let rt = rt(1);
    let (listener, lreg, _) = rt.block_on(listen()).unwrap();
    drop(rt);
    let r = futures::executor::block_on(lreg.async_io(Direction::Read, || listener.accept()));
    let err = r.map(|_| ()).unwrap_err();
    assert!(
        err.get_ref()
            .and_then(|e| e.downcast_ref::<RuntimeShutdown>())
            .is_some(),
        "{err}"
    );
}

#[test]
fn registering_outside_a_runtime_is_an_error() {
    let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let err = Registration::new(&mut l, Interest::READABLE).unwrap_err();
    assert!(err.to_string().contains("needs a gort runtime"), "{err}");
}

/// The block_on future alone waits on a socket registered after every M
/// went idle (no task, no timer): some M must still poll for it.
#[test]
fn block_on_alone_waiting_on_a_socket_wakes() {
    let rt = rt(2);
    rt.block_on(async {
        let (_listener, _lreg, addr) = listen().await.unwrap();
        // Connected once writable: needs a netpoll with no task spawned.
        let _c = Conn::connect(addr).await.unwrap();
    });
}

/// Runs `f` on a thread of its own and fails if it has not finished in
/// `secs` seconds: for the tests below, whose failure mode is a hang.
fn within<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("hung: nothing woke the M asleep in the netpoller with its P")
}

/// With one P and a socket registered, the idle M blocks in the netpoller
/// keeping its P, with no timer to end the wait. A task spawned from a
/// thread outside the runtime finds no idle P: the spawn's `wakep` must
/// break that M's wait, or nothing ever runs the task.
#[test]
fn a_foreign_spawn_wakes_the_m_holding_its_p_in_the_netpoller() {
    within(20, || {
        let rt = rt(1);
        let kept = rt.block_on(async { listen().await.unwrap() });
        for i in 0..20u32 {
            // Let the M go back to sleep in the netpoller each time.
            std::thread::sleep(Duration::from_millis(5));
            let (tx, rx) = std::sync::mpsc::channel();
            drop(rt.spawn(async move { tx.send(i).unwrap() }));
            assert_eq!(rx.recv().unwrap(), i);
        }
        drop(kept);
    });
}

/// A task's long syscall loses the only P to sysmon; the M handed that P
/// finds nothing to do and blocks in the netpoller holding it. When the
/// syscall returns, its M waits for a P: it must get that one, so the
/// netpoll holder has to be woken to give it up.
#[test]
fn exitsyscall_takes_the_p_of_the_m_holding_it_in_the_netpoller() {
    let (handoffs, v) = within(20, || {
        let rt = rt(1);
        let v = rt.block_on(async {
            let kept = listen().await.unwrap();
            let v = gort_core::spawn(async {
                gort_core::syscall(|| std::thread::sleep(Duration::from_millis(200)));
                7
            })
            .await
            .unwrap();
            drop(kept);
            v
        });
        (rt.metrics().handoffs, v)
    });
    assert_eq!(v, 7);
    // The path under test was taken: sysmon handed the P off mid-syscall.
    assert!(handoffs >= 1, "the syscall kept its P");
}
