//! The `http` example's server (hyper on gort through the adapters in
//! `examples/http/hyper_gort.rs`) answers a real HTTP/1.1 request. Needs
//! no external tool; bounded by a timeout.

#[path = "../examples/http/hyper_gort.rs"]
mod hyper_gort;

use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort::net::{TcpListener, TcpStream};

#[gort::test(procs = 2)]
async fn hello_over_http1() {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn({
        let listener = listener.clone();
        async move { hyper_gort::serve(&listener).await }
    });

    let exchange = async {
        let mut conn = TcpStream::connect(addr).await?;
        conn.write_all(b"GET / HTTP/1.1\r\nHost: gort\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        conn.read_to_end(&mut response).await?;
        std::io::Result::Ok(String::from_utf8(response).expect("a UTF-8 response"))
    };
    let response = gort::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("no response within 10 s")
        .expect("the exchange failed");

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

    // Closing the listener ends the accept loop with an error.
    listener.close();
    let ended = gort::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve did not return after close")
        .expect("serve panicked");
    assert!(ended.is_err());
}
