//! Name resolution off the P.

use gort_core::Builder;

#[test]
fn lookup_localhost() {
    let rt = Builder::new().procs(1).build().unwrap();
    rt.block_on(async {
        let addrs: Vec<_> = gort_net::lookup_host("localhost:80")
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(
            addrs.iter().all(|a| a.port() == 80 && a.ip().is_loopback()),
            "{addrs:?}"
        );
    });
}

#[test]
fn literal_addresses_resolve_without_a_lookup() {
    // Outside any runtime and with no thread: literals parse in place.
    let v4: Vec<_> = futures::executor::block_on(gort_net::lookup_host("10.1.2.3:8080"))
        .unwrap()
        .collect();
    assert_eq!(v4, ["10.1.2.3:8080".parse().unwrap()]);
    let v6: Vec<_> = futures::executor::block_on(gort_net::lookup_host("[::1]:443"))
        .unwrap()
        .collect();
    assert_eq!(v6, ["[::1]:443".parse().unwrap()]);
}

#[test]
fn a_missing_port_is_an_error() {
    let rt = Builder::new().procs(1).build().unwrap();
    rt.block_on(async {
        assert!(gort_net::lookup_host("localhost").await.is_err());
    });
}

/// Eight lookups in flight at once on a single P, on the offload pool,
/// all delivered; the lookups ran as `spawn_blocking` jobs.
#[test]
fn concurrent_lookups_on_one_p() {
    let rt = Builder::new().procs(1).build().unwrap();
    rt.block_on(async {
        let lookups: Vec<_> = (0..8)
            .map(|_| {
                gort_core::spawn(async {
                    gort_net::lookup_host("localhost:1")
                        .await
                        .map(|a| a.collect::<Vec<_>>())
                })
            })
            .collect();
        for l in lookups {
            assert!(!l.await.unwrap().unwrap().is_empty());
        }
        assert!(gort_core::runtime::metrics().blocking_threads >= 1);
    });
}

/// Outside a gort runtime (another executor), a name still resolves, on a
/// thread of its own.
#[test]
fn lookup_outside_a_runtime() {
    let addrs: Vec<_> = futures::executor::block_on(gort_net::lookup_host("localhost:7"))
        .unwrap()
        .collect();
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.port() == 7), "{addrs:?}");
}
