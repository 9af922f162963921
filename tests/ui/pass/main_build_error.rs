//! A runtime that cannot be built makes the generated fn panic with the
//! builder's error, displayed. (A separate process, so setting the
//! environment disturbs no other test.)

#[gort::main]
async fn run() -> usize {
    gort::runtime::gomaxprocs()
}

fn main() {
    std::env::set_var("GORT_MAXPROCS", "3");
    assert_eq!(run(), 3);

    std::env::set_var("GORT_MAXPROCS", "lots");
    std::panic::set_hook(Box::new(|_| {})); // the panic below is expected
    let panic = std::panic::catch_unwind(run).unwrap_err();
    let msg = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert_eq!(
        msg,
        "`#[gort::main]` could not build the gort runtime: GORT_MAXPROCS=\"lots\" is not a positive integer",
    );
}
