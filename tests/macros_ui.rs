//! Compile-time behaviour of `#[gort::main]` and `#[gort::test]`: the pass
//! cases must build (and run), the fail cases must be rejected with the
//! errors in their `.stderr` snapshots, each at the user's span.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
