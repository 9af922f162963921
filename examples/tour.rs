//! A tour of gort: Go's runtime for Rust futures.
//!
//! Run it with `cargo run --release --example tour`. Each act runs a real
//! workload and prints what it did and how long it took.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::time::{sleep, timeout, Ticker};

#[gort::main]
async fn main() {
    println!(
        "gort tour: GOMAXPROCS={} (set GORT_MAXPROCS to change)\n",
        gort::runtime::gomaxprocs()
    );
    hundred_thousand_goroutines().await;
    fan_out_fan_in().await;
    timers().await;
    // The body of #[gort::main] runs on the calling thread, outside any P
    // (as tokio's does); a wake-up of it costs a thread unpark. Run the
    // channel act as a goroutine so its ping-pong stays on one P.
    gort::spawn(channels())
        .await
        .expect("channels act panicked");
    network().await.expect("network act failed");
    scheduler_view();
}

/// Act 1: `go f()` a hundred thousand times, then wait for all of them.
async fn hundred_thousand_goroutines() {
    const N: u64 = 100_000;
    let t0 = Instant::now();
    let handles: Vec<_> = (0..N).map(|i| gort::spawn(async move { i })).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("task panicked");
    }
    let took = t0.elapsed();
    assert_eq!(sum, N * (N - 1) / 2);
    println!(
        "1. spawned and joined {N} goroutines in {:.1} ms ({:.0} ns each)",
        took.as_secs_f64() * 1e3,
        took.as_nanos() as f64 / N as f64
    );
}

/// Act 2: fan out 64 workers over a million numbers, fan their partial sums
/// back in, each worker yielding now and then as a long computation would.
async fn fan_out_fan_in() {
    const WORKERS: u64 = 64;
    const PER: u64 = 1_000_000 / WORKERS;
    let t0 = Instant::now();
    let yields = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let yields = yields.clone();
            gort::spawn(async move {
                let mut acc = 0u64;
                for x in w * PER..(w + 1) * PER {
                    acc = acc.wrapping_add(x * x % 7);
                    if x % 4096 == 0 {
                        gort::yield_now().await;
                        yields.fetch_add(1, Relaxed);
                    }
                }
                (acc, gort::runtime::current_proc())
            })
        })
        .collect();
    let mut total = 0u64;
    let mut per_proc = vec![0usize; gort::runtime::gomaxprocs()];
    for h in workers {
        let (acc, p) = h.await.expect("worker panicked");
        total = total.wrapping_add(acc);
        if let Some(p) = p {
            per_proc[p] += 1;
        }
    }
    println!(
        "2. fan-out/fan-in: {WORKERS} workers summed 1M terms to {total} in {:.1} ms, \
         {} yields; workers finished per P: {per_proc:?}",
        t0.elapsed().as_secs_f64() * 1e3,
        yields.load(Relaxed)
    );
}

/// Act 3: ten thousand sleepers, a ticker, and a timeout.
async fn timers() {
    let t0 = Instant::now();
    let late = Arc::new(AtomicU64::new(0));
    let sleepers: Vec<_> = (0..10_000u64)
        .map(|i| {
            let late = late.clone();
            gort::spawn(async move {
                let deadline = Instant::now() + Duration::from_millis(1 + i % 20);
                gort::time::sleep_until(deadline).await;
                late.fetch_max(deadline.elapsed().as_micros() as u64, Relaxed);
            })
        })
        .collect();
    let ticker = Ticker::new(Duration::from_millis(5));
    let mut ticks = 0;
    while ticks < 4 {
        ticker.recv().await;
        ticks += 1;
    }
    ticker.stop();
    for s in sleepers {
        s.await.expect("sleeper panicked");
    }
    let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(60))).await;
    println!(
        "3. timers: 10000 sleepers (1-20 ms) woke at most {} µs late, {ticks} ticks of 5 ms, \
         a 60 s sleep cut by a 10 ms timeout ({}); {:.1} ms in all",
        late.load(Relaxed),
        if slow.is_err() {
            "Elapsed"
        } else {
            "finished?!"
        },
        t0.elapsed().as_secs_f64() * 1e3
    );
}

/// Act 4: channels. A ping-pong over unbuffered channels (each receiver
/// runs next on its sender's P), a prime sieve of chained goroutines, and a
/// select with a timeout, joined by a WaitGroup.
async fn channels() {
    use gort::sync::{chan, WaitGroup};

    const ROUNDS: u64 = 100_000;
    let t0 = Instant::now();
    let (ping_tx, ping_rx) = chan::<u64>(0);
    let (pong_tx, pong_rx) = chan::<u64>(0);
    let echo = gort::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.unwrap();
        }
    });
    for i in 0..ROUNDS {
        ping_tx.send(i).await.unwrap();
        assert_eq!(pong_rx.recv().await, Some(i));
    }
    drop(ping_tx);
    echo.await.unwrap();
    let pingpong = t0.elapsed();

    // Go's concurrent prime sieve: each prime gets a goroutine that filters
    // its multiples out of the stream.
    let t1 = Instant::now();
    let wg = WaitGroup::new();
    let (tx, mut rx) = chan::<u32>(0);
    wg.go(async move {
        for n in 2.. {
            if tx.send(n).await.is_err() {
                break; // every filter downstream is gone
            }
        }
    });
    let mut primes = Vec::new();
    for _ in 0..300 {
        let p = rx.recv().await.unwrap();
        primes.push(p);
        let (next_tx, next_rx) = chan::<u32>(0);
        let input = rx;
        wg.go(async move {
            while let Some(n) = input.recv().await {
                if n % p != 0 && next_tx.send(n).await.is_err() {
                    break;
                }
            }
        });
        rx = next_rx;
    }
    drop(rx); // the last filter's sends now fail, and the chain unwinds
    wg.wait().await;
    let sieve = t1.elapsed();

    let (_quiet_tx, quiet) = chan::<()>(0);
    let waited = gort::select! {
        _ = quiet.recv() => "a value?!",
        _ = gort::time::after(Duration::from_millis(5)) => "time.After fired",
    };
    println!(
        "4. channels: {ROUNDS} ping-pong round trips in {:.1} ms ({:.0} ns each); \
         sieve of 300 chained goroutines found primes up to {} in {:.1} ms; select: {waited}",
        pingpong.as_secs_f64() * 1e3,
        pingpong.as_nanos() as f64 / ROUNDS as f64,
        primes.last().unwrap(),
        sieve.as_secs_f64() * 1e3
    );
}

/// Act 5: the network. An echo server on a loopback listener, a goroutine
/// per connection, and a few clients doing round trips against it; every
/// task waiting on a socket holds no P and no M.
async fn network() -> std::io::Result<()> {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use gort::net::{TcpListener, TcpStream};

    const CLIENTS: usize = 4;
    const ROUND_TRIPS: usize = 1_000;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = gort::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                break;
            };
            gort::spawn(async move {
                // Not `conn.split()`: that is AsyncReadExt's, a locked split.
                let (mut r, mut w) = TcpStream::split(&mut conn);
                futures::io::copy(&mut r, &mut w).await
            });
        }
    });
    let lat0 = gort::runtime::metrics().sched_latencies;
    let t0 = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            gort::spawn(async move {
                let mut conn = TcpStream::connect(addr).await?;
                conn.set_nodelay(true)?;
                let mut msg = [c as u8; 64];
                let mut back = [0u8; 64];
                let mut worst = Duration::ZERO;
                for i in 0..ROUND_TRIPS {
                    msg[0] = i as u8;
                    let t = Instant::now();
                    conn.write_all(&msg).await?;
                    conn.read_exact(&mut back).await?;
                    worst = worst.max(t.elapsed());
                    assert_eq!(back, msg, "the echo came back changed");
                }
                std::io::Result::Ok(worst)
            })
        })
        .collect();
    let mut worst = Duration::ZERO;
    for c in clients {
        worst = worst.max(c.await.expect("client panicked")?);
    }
    let took = t0.elapsed();
    // Go's /sched/latencies: how long the act's tasks waited, runnable,
    // for an M (a sample; power-of-two buckets, so upper bounds).
    let lat = gort::runtime::metrics().sched_latencies.since(&lat0);
    let q = |q| fmt_wait(lat.quantile(q).unwrap_or_default());
    let trips = CLIENTS * ROUND_TRIPS;
    println!(
        "5. network: {CLIENTS} clients made {trips} 64-byte round trips through a loopback echo \
         server in {:.1} ms ({:.1} µs each on average, slowest {} µs); a woken task waited \
         for an M under {} at p50, under {} at p99",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / trips as f64,
        worst.as_micros(),
        q(0.5),
        q(0.99)
    );
    server.abort();
    Ok(())
}

/// Act 6: what the scheduler did.
fn scheduler_view() {
    let m = gort::runtime::metrics();
    println!(
        "6. scheduler: {} Ms for {} Ps, {} polls ({} from runnext), {} steals, {} parks; \
         live goroutines now: {}",
        m.threads,
        gort::runtime::gomaxprocs(),
        m.polls,
        m.runnext_hits,
        m.steals,
        m.parks,
        gort::runtime::num_goroutines()
    );
    println!(
        "next: `cargo run --example graceful` (a server that drains its connections on \
         SIGINT/SIGTERM: signal::notify_context, JoinSet, shutdown_timeout)"
    );
}

/// A short duration as "850 ns" or "16 µs".
fn fmt_wait(d: Duration) -> String {
    if d < Duration::from_micros(1) {
        format!("{} ns", d.as_nanos())
    } else {
        format!("{} µs", d.as_micros())
    }
}
