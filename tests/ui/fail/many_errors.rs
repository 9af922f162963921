//! Every problem is reported, not only the first.
#[gort::test(threads = 2, procs = 0)]
unsafe fn everything<T>(x: T) {}

fn main() {}
