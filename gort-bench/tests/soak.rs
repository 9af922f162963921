//! `gort-bench soak --secs 5`: the soak run end to end (the binary as
//! cargo builds it for tests), which must pass its own checks — every
//! value exactly once, no task left after the drain — and print its
//! samples. Its memory is reported, not checked (`--no-rss-limit`): five
//! seconds are all warm-up (the heap in use settles after about 45 s). The checking logic's ability to fail
//! (a missing, duplicated or never-sent value) is tested by `soak.rs`'s
//! unit tests.

use std::process::Command;

#[test]
fn a_five_second_soak_passes() {
    let dir = std::env::temp_dir().join(format!("gort-soak-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (csv, svg) = (dir.join("soak.csv"), dir.join("soak.svg"));
    let out = Command::new(env!("CARGO_BIN_EXE_gort-bench"))
        .args(["soak", "--secs", "5", "--no-rss-limit", "--csv"])
        .arg(&csv)
        .arg("--svg")
        .arg(&svg)
        .output()
        .expect("run gort-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "soak failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("soak: ok "), "{stdout}");
    let samples = stdout.lines().filter(|l| l.contains("rss_kib=")).count();
    assert!(samples >= 5, "five samples and the final one: {stdout}");
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), samples + 1, "a header and the samples");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("RSS (KiB)"),
        "{svg:.200}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_soak_arguments_are_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_gort-bench"))
        .args(["soak", "--secs", "0"])
        .output()
        .expect("run gort-bench");
    assert_eq!(out.status.code(), Some(2));
}
