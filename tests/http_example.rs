//! The `http` example's server and client (hyper on gort through
//! `gort::hyper`, in `examples/http/hyper_gort.rs`) exchange real HTTP/1.1
//! over loopback. Needs no external tool; every exchange is bounded by a
//! timeout. Built with the `hyper` feature, as the example is.

#![cfg(feature = "hyper")]

#[path = "../examples/http/hyper_gort.rs"]
mod hyper_gort;

use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort::net::{TcpListener, TcpStream};

/// Starts `hyper_gort::serve` on an ephemeral port, sends `request` on
/// one connection and returns everything the server wrote until it
/// closed; then closes the listener and checks that `serve` returned.
async fn exchange(request: &[u8]) -> String {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn({
        let listener = listener.clone();
        async move { hyper_gort::serve(&listener).await }
    });

    let exchange = async {
        let mut conn = TcpStream::connect(addr).await?;
        conn.write_all(request).await?;
        let mut response = Vec::new();
        conn.read_to_end(&mut response).await?;
        std::io::Result::Ok(String::from_utf8(response).expect("a UTF-8 response"))
    };
    let response = gort::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("no response within 10 s")
        .expect("the exchange failed");

    // Closing the listener ends the accept loop with an error.
    listener.close();
    let ended = gort::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve did not return after close")
        .expect("serve panicked");
    assert!(ended.is_err());
    response
}

#[gort::test(procs = 2)]
async fn hello_over_http1() {
    let response = exchange(b"GET / HTTP/1.1\r\nHost: gort\r\nConnection: close\r\n\r\n").await;
    assert!(
        response.starts_with("HTTP/1.1 200 OK\r\n"),
        "status line: {response:?}"
    );
    let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
    assert!(
        head.to_ascii_lowercase().contains("\r\ncontent-length: 14"),
        "headers: {head:?}"
    );
    assert_eq!(body.as_bytes(), hyper_gort::HELLO);
}

/// A 5,000-byte body the service never reads, then a pipelined GET: hyper
/// drains the body with one read and keeps the connection only if that
/// read took all of it, which the stream's hyper `Read` must allow (one
/// read takes all of hyper's spare capacity).
#[gort::test(procs = 2)]
async fn unread_body_then_pipelined_request() {
    let mut request = b"POST / HTTP/1.1\r\nHost: gort\r\nContent-Length: 5000\r\n\r\n".to_vec();
    request.extend_from_slice(&[b'x'; 5000]);
    request.extend_from_slice(b"GET / HTTP/1.1\r\nHost: gort\r\nConnection: close\r\n\r\n");
    let response = exchange(&request).await;
    assert_eq!(
        response.matches("HTTP/1.1 200 OK\r\n").count(),
        2,
        "responses: {response:?}"
    );
    assert_eq!(response.matches("Hello, world!\n").count(), 2);
}

/// The example's client against its server: hyper's HTTP/1.1 client over
/// `gort::hyper::Io`, three requests on three connections.
#[gort::test(procs = 2)]
async fn client_gets_hello_from_server() {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn({
        let listener = listener.clone();
        async move { hyper_gort::serve(&listener).await }
    });
    for _ in 0..3 {
        let (status, body) =
            gort::time::timeout(Duration::from_secs(10), hyper_gort::get(addr, "/"))
                .await
                .expect("no response within 10 s")
                .expect("the GET failed");
        assert_eq!(status, 200);
        assert_eq!(&body[..], hyper_gort::HELLO);
    }
    listener.close();
    let ended = gort::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve did not return after close")
        .expect("serve panicked");
    assert!(ended.is_err());
}
