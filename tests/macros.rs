//! `#[gort::main]` and `#[gort::test]`: what the generated fns do at run
//! time. Misuse (compile errors) is covered by `macros_ui.rs`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

#[gort::test(procs = 1)]
async fn test_procs_sets_gomaxprocs() {
    assert_eq!(gort::runtime::gomaxprocs(), 1);
}

#[gort::test(procs = 3)]
async fn test_procs_three() {
    assert_eq!(gort::runtime::gomaxprocs(), 3);
}

#[gort::test]
async fn test_without_procs_takes_the_builder_default() {
    assert!(gort::runtime::gomaxprocs() >= 1);
}

#[gort::test]
async fn test_may_return_result() -> Result<(), std::io::Error> {
    let n: u32 = "42".parse().map_err(std::io::Error::other)?;
    assert_eq!(n, 42);
    Ok(())
}

#[gort::test]
async fn test_question_mark_converts_into_the_declared_error(
) -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "7".parse()?; // ParseIntError -> Box<dyn Error>
    assert_eq!(n, 7);
    Ok(())
}

#[gort::test]
async fn test_early_return_leaves_the_body() -> Result<(), String> {
    if gort::runtime::gomaxprocs() > 0 {
        return Ok(());
    }
    Err("unreachable".into())
}

#[gort::test]
#[should_panic(expected = "boom from a gort test")]
async fn test_should_panic_passes_through() {
    gort::yield_now().await;
    panic!("boom from a gort test");
}

#[gort::test]
#[ignore = "checks only that #[ignore] passes through and compiles"]
async fn test_ignore_passes_through() {
    panic!("an ignored test must not run");
}

#[gort::test(procs = 2)]
async fn test_spawning_inside_works() {
    let counter = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..100u64)
        .map(|i| {
            let counter = counter.clone();
            gort::spawn(async move {
                counter.fetch_add(1, SeqCst);
                i
            })
        })
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    assert_eq!(sum, 4950);
    assert_eq!(counter.load(SeqCst), 100);
}

#[gort::test]
async fn test_inner_attributes_still_apply() {
    #![allow(unused_variables)]
    let unused = 1;
}

// `#[gort::main]` on fns not named `main`: each becomes a sync fn running
// its body on a runtime of its own.

#[gort::main(procs = 2)]
async fn run_with_two_procs() -> usize {
    let h = gort::spawn(async { gort::runtime::gomaxprocs() });
    h.await.unwrap()
}

#[gort::main]
async fn run_ok() -> Result<u32, std::num::ParseIntError> {
    Ok("5".parse::<u32>()? * 2)
}

#[gort::main(procs = 1)]
async fn run_err() -> Result<u32, std::num::ParseIntError> {
    Ok("x".parse::<u32>()? * 2)
}

#[test]
fn main_generated_fn_blocks_on_its_body() {
    assert_eq!(run_with_two_procs(), 2);
    // Each call builds a fresh runtime.
    assert_eq!(run_with_two_procs(), 2);
}

#[test]
fn main_generated_fn_returns_result() {
    assert_eq!(run_ok(), Ok(10));
    assert!(run_err().is_err());
}
