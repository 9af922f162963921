//! Unix-domain sockets: listener and stream, pair, halves, datagrams.

use std::path::PathBuf;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort_core::io::Closed;
use gort_core::{Builder, Runtime};
use gort_net::{UnixDatagram, UnixListener, UnixStream};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// A fresh socket path, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let p = std::env::temp_dir().join(format!("gort-net-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn listener_and_stream_echo() {
    const CONNS: usize = 50;
    rt(2).block_on(async {
        let path = TempPath::new("echo");
        let listener = UnixListener::bind(&path.0).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.0.as_path())
        );
        let server = gort_core::spawn(async move {
            let mut tasks = Vec::new();
            for _ in 0..CONNS {
                let (mut s, _) = listener.accept().await.unwrap();
                tasks.push(gort_core::spawn(async move {
                    let (mut r, mut w) = UnixStream::split(&mut s);
                    futures::io::copy(&mut r, &mut w).await.unwrap()
                }));
            }
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            total
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                let p = path.0.clone();
                gort_core::spawn(async move {
                    let mut c = UnixStream::connect(&p).await.unwrap();
                    let msg = vec![i as u8; 1000];
                    c.write_all(&msg).await.unwrap();
                    c.close().await.unwrap();
                    let mut got = Vec::new();
                    c.read_to_end(&mut got).await.unwrap();
                    assert_eq!(got, msg);
                    got.len()
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        assert_eq!(total, CONNS * 1000);
        assert_eq!(server.await.unwrap(), (CONNS * 1000) as u64);
    });
}

#[test]
fn pair_owned_halves_and_close() {
    rt(2).block_on(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (mut ar, mut aw) = a.into_split();
        let reader = gort_core::spawn(async move {
            let mut buf = [0u8; 3];
            ar.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"abc");
            // Now parked until the write half closes the stream.
            ar.read(&mut buf).await
        });
        b.write_all(b"abc").await.unwrap();
        aw.write_all(b"xyz").await.unwrap();
        let mut buf = [0u8; 3];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"xyz");
        gort_core::time::sleep(std::time::Duration::from_millis(10)).await;
        aw.close_shared();
        let e = reader.await.unwrap().unwrap_err();
        assert!(e.get_ref().is_some_and(|e| e.is::<Closed>()), "{e}");
        // The peer saw the shutdown.
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn connect_to_missing_path_fails() {
    rt(1).block_on(async {
        let path = TempPath::new("missing");
        let e = UnixStream::connect(&path.0).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    });
}

#[test]
fn datagrams_bound_unbound_and_pair() {
    rt(2).block_on(async {
        let pa = TempPath::new("dg-a");
        let a = UnixDatagram::bind(&pa.0).unwrap();
        let b = UnixDatagram::unbound().unwrap();
        assert_eq!(b.send_to(b"to a", &pa.0).await.unwrap(), 4);
        let mut buf = [0u8; 16];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"to a");
        assert!(from.is_unnamed());

        let pb = TempPath::new("dg-b");
        let b = UnixDatagram::bind(&pb.0).unwrap();
        b.connect(&pa.0).unwrap();
        b.send(b"connected").await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"connected");
        assert_eq!(from.as_pathname(), Some(pb.0.as_path()));

        let (x, y) = UnixDatagram::pair().unwrap();
        for i in 0..50u8 {
            x.send(&[i; 3]).await.unwrap();
            assert_eq!(y.recv(&mut buf).await.unwrap(), 3);
            assert_eq!(buf[..3], [i; 3]);
        }
        y.close();
        let e = y.recv(&mut buf).await.unwrap_err();
        assert!(e.get_ref().is_some_and(|e| e.is::<Closed>()), "{e}");
    });
}
