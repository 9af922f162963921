//! Entry-point attributes for gort: `#[gort::main]` and `#[gort::test]`.
//!
//! Use them through the `gort` crate, which re-exports them; the code they
//! generate names only `::gort::__private::...`, so depending on `gort` is
//! enough.
//!
//! Both attributes turn an `async fn` with no parameters into a synchronous
//! fn of the same name, visibility, attributes and return type, which builds
//! a fresh gort runtime and runs the body on it with `block_on`:
//!
//! ```ignore
//! #[gort::main(procs = 4)]
//! async fn main() -> std::io::Result<()> {
//!     let answer = gort::spawn(async { 6 * 7 }).await.unwrap();
//!     assert_eq!(answer, 42);
//!     Ok(())
//! }
//! ```
//!
//! expands to, roughly,
//!
//! ```ignore
//! fn main() -> std::io::Result<()> {
//!     let body = async {
//!         let ret: std::io::Result<()> = {
//!             let answer = gort::spawn(async { 6 * 7 }).await.unwrap();
//!             assert_eq!(answer, 42);
//!             Ok(())
//!         };
//!         return ret;
//!     };
//!     ::gort::__private::Builder::new()
//!         .procs(4)
//!         .build()
//!         .unwrap_or_else(|e| panic!("`#[gort::main]` could not build the gort runtime: {}", e))
//!         .block_on(body)
//! }
//! ```
//!
//! (The examples here are not compiled: the macros are used through `gort`,
//! which depends on this crate. The runnable ones are `gort`'s
//! `tests/macros.rs` and `tests/ui/pass/`.)
//!
//! # Arguments
//!
//! - `procs = N`: the number of Ps, Go's `GOMAXPROCS`; an integer literal of
//!   at least 1. Without it the runtime takes the `Builder` default:
//!   `GORT_MAXPROCS` if set, else the CPU count.
//! - `detect_deadlock = true|false` (on by default in `#[gort::test]`).
//! - Only in `#[gort::test]`: `timeout = "5s"`; the flags `synctest` (a
//!   bubble with virtual time) and `leak_check` (fail with `leaked
//!   goroutines:` if spawned tasks outlive the body by 1 s).
//!
//! They combine in any order: `#[gort::test(procs = 1, synctest,
//! leak_check)]`.
//!
//! # Compile errors
//!
//! Misuse is a compile error at the offending token, never a panic in the
//! macro: a fn without `async`; parameters; generics; `const`, `unsafe` or
//! `extern` fns; an unknown argument (`threads = 2`); `procs = 0`, a
//! non-integer or suffixed `procs`, or any argument given twice; a value
//! on a flag (`synctest = true`); `synctest` with `detect_deadlock =
//! false` (a bubble always detects deadlock); a test-only argument on
//! `#[gort::main]`; and, for `#[gort::test]`, a second `#[test]`. Every problem in one attribute is
//! reported, not just the first.
//!
//! # Differences from tokio
//!
//! There is a single runtime flavor, so there is no `flavor` argument; and
//! `procs` replaces `worker_threads`, since gort's Ps are not threads.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

mod args;
mod entry;
mod select;

use proc_macro::TokenStream;

use entry::Kind;

/// Runs an `async fn` on a fresh gort runtime: the program's entry point.
///
/// `#[gort::main]` turns `async fn main() -> Ret` into a synchronous
/// `fn main() -> Ret` that builds a runtime with `gort::Builder` and
/// `block_on`s the body; the return value is the body's, so `main` may
/// return a `Result` and use `?`. `#[gort::main(procs = N)]` sets the number
/// of Ps (Go's `GOMAXPROCS`); without it the runtime takes `GORT_MAXPROCS`,
/// else the CPU count.
///
/// The attribute may also be put on an `async fn` not named `main` (as
/// tokio allows): it becomes an ordinary sync fn that runs its body on a
/// runtime of its own, handy for a `run()` called from a plain `main` or
/// from a library's blocking API. Like any `block_on`, calling such a fn
/// from inside a gort task panics.
///
/// # Panics
///
/// The generated fn panics when the runtime cannot be built, e.g. when
/// `GORT_MAXPROCS` is set to something other than a positive integer.
///
/// # Examples
///
/// ```ignore
/// #[gort::main(procs = 2)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let hs: Vec<_> = (0..10u64).map(|i| gort::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for h in hs {
///         sum += h.await?;
///     }
///     println!("{sum}");
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` as a test, on a fresh gort runtime per test.
///
/// `#[gort::test]` turns `async fn name() -> Ret` into
/// `#[test] fn name() -> Ret` whose body runs with `block_on` on a runtime
/// of its own, so tests cannot disturb one another. Other attributes, such
/// as `#[ignore]` and `#[should_panic]`, pass through unchanged; the test
/// may return a `Result`. `#[gort::test(procs = N)]` sets the number of Ps;
/// without it the runtime takes the `Builder` default.
///
/// Options, combined in any order, each at most once:
///
/// - `procs = N`; `detect_deadlock = false` turns the detector (on by
///   default in tests) off;
/// - `timeout = "5s"`: past it the test panics with `test timed out after
///   5s` and the goroutine dump;
/// - `synctest`: the body runs in a bubble with virtual time, as in
///   `gort::synctest::run` (not with `detect_deadlock = false`: a bubble
///   always detects deadlock, as Go's panics on one);
/// - `leak_check`: once the body has returned (`Ok`, `Err` or `()`, as
///   goleak's deferred `VerifyNone` runs whatever the outcome), waits up to
///   1 s for every spawned task to finish, then panics with `leaked
///   goroutines:` and the dump of those still alive, each with the line
///   that spawned it (`gort::runtime::check_leaks`). A body that panics is
///   not checked: its panic is the failure. A leak reported after a body
///   that returned `Err` replaces that error as the test's failure.
///
/// # Panics
///
/// The generated test panics (fails) when the runtime cannot be built, e.g.
/// on a bad `GORT_MAXPROCS`.
///
/// # Examples
///
/// ```ignore
/// #[gort::test(procs = 1)]
/// async fn one_p() {
///     assert_eq!(gort::runtime::gomaxprocs(), 1);
///     assert_eq!(gort::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
///
/// #[gort::test]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
///
/// #[gort::test(procs = 1, leak_check, timeout = "30s")]
/// async fn no_task_outlives_the_test() {
///     let (tx, rx) = gort::sync::chan::<u32>(1);
///     gort::spawn(async move { tx.send(1).await.unwrap() });
///     assert_eq!(rx.recv().await, Some(1));
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Test, args.into(), item.into()).into()
}

/// Waits on several channel operations and futures at once and runs the
/// branch of the one that completes (Go's `select` statement).
///
/// ```ignore
/// let out = gort::select! {
///     v = rx.recv() => { /* v: Option<T> */ },
///     Some(v) = rx3.recv() => { },          // refutable: no match disables the branch
///     r = tx.send(x) => { },                // r: Result<(), SendError<T>>
///     _ = gort::time::sleep(d) => { },      // any future
///     v = rx2.recv(), if enabled => { },    // a disabled branch is Go's nil channel
///     default => { },                       // makes the select non-blocking
/// };
/// ```
///
/// The whole `select!` is an expression with the chosen branch's value.
/// When several cases are ready one is chosen uniformly at random (a fresh
/// shuffle each time). Channel cases commit exactly once: a receive that is
/// not chosen takes no value and a send that is not chosen delivers none.
/// A disabled branch's expression is not evaluated. With every branch
/// disabled and no `default`, the select waits forever. Bodies run in the
/// caller's context: `.await`, `?`, `return`, `break` and `continue` work.
///
/// If a value does not match its branch's pattern (say `Some(v)` when the
/// channel is closed), that branch is disabled and the select goes on; a
/// received value that does not match goes back to the front of its
/// channel, so no value is lost.
#[proc_macro]
pub fn select(input: TokenStream) -> TokenStream {
    match syn::parse::<select::Select>(input) {
        Ok(s) => select::expand(s).into(),
        Err(e) => e.to_compile_error().into(),
    }
}
