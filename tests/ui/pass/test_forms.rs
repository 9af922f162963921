//! `#[gort::test]` forms compile; trybuild builds this as a binary, so the
//! tests themselves run in `tests/macros.rs`.

#[gort::test]
async fn plain() {}

#[gort::test(procs = 1)]
#[ignore]
async fn ignored() -> Result<(), std::io::Error> {
    Ok(())
}

#[gort::test(procs = 4usize)]
#[should_panic]
async fn panics() {
    panic!("expected");
}

fn main() {}
