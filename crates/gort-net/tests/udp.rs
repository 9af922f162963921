//! UDP: send_to/recv_from, connected send/recv, peek, several tasks
//! waiting on one socket, and close waking them.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use gort_core::io::Closed;
use gort_core::{Builder, Runtime};
use gort_net::UdpSocket;

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

#[test]
fn send_to_and_recv_from() {
    rt(2).block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        for i in 0..100u8 {
            assert_eq!(a.send_to(&[i; 10], ba).await.unwrap(), 10);
            let mut buf = [0u8; 32];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (10, aa));
            assert_eq!(buf[..n], [i; 10]);
            b.send_to(&buf[..n], from).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (10, ba));
        }
    });
}

#[test]
fn connected_send_recv_and_peek() {
    rt(1).block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(
            a.peer_addr().unwrap_err().kind(),
            io::ErrorKind::NotConnected
        );
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.send(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr().unwrap()));
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        b.send(b"back").await.unwrap();
        assert_eq!(a.recv(&mut buf).await.unwrap(), 4);
    });
}

/// Several tasks receive on one `Arc<UdpSocket>`: every datagram reaches
/// exactly one of them. Then `close` ends the waits of those left.
#[test]
fn several_receivers_share_a_socket_then_close() {
    const RECEIVERS: usize = 4;
    const DATAGRAMS: usize = 200;
    rt(2).block_on(async {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        let (tx, mut rx) = futures::channel::mpsc::unbounded();
        let receivers: Vec<_> = (0..RECEIVERS)
            .map(|_| {
                let sock = sock.clone();
                let tx = tx.clone();
                gort_core::spawn(async move {
                    let mut buf = [0u8; 8];
                    loop {
                        match sock.recv_from(&mut buf).await {
                            Ok((n, _)) => tx
                                .unbounded_send(u32::from_le_bytes(buf[..n].try_into().unwrap()))
                                .unwrap(),
                            Err(e) => return e,
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut seen = [false; DATAGRAMS];
        // One in flight at a time: loopback UDP may drop under a burst.
        for i in 0..DATAGRAMS as u32 {
            sender.send_to(&i.to_le_bytes(), addr).await.unwrap();
            let got = futures::StreamExt::next(&mut rx).await.unwrap();
            assert!(!seen[got as usize], "datagram {got} received twice");
            seen[got as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        gort_core::time::sleep(Duration::from_millis(10)).await;
        sock.close();
        for r in receivers {
            let e = r.await.unwrap();
            assert!(e.get_ref().is_some_and(|e| e.is::<Closed>()), "{e}");
        }
        let e = sock.send_to(b"x", addr).await.unwrap_err();
        assert!(e.get_ref().is_some_and(|e| e.is::<Closed>()), "{e}");
    });
}

#[test]
fn options() {
    rt(1).block_on(async {
        let s = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        s.set_broadcast(true).unwrap();
        assert!(s.broadcast().unwrap());
        s.set_ttl(7).unwrap();
        assert_eq!(s.ttl().unwrap(), 7);
        s.set_multicast_loop_v4(true).unwrap();
        s.set_multicast_ttl_v4(2).unwrap();
    });
}
