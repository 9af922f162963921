//! `#[gort::main(procs = N)]` sets GOMAXPROCS; attributes and inner
//! attributes are kept.

#[gort::main(procs = 2)]
#[allow(clippy::needless_return)]
pub async fn main() {
    #![allow(unused_variables)]
    let unused = ();
    assert_eq!(gort::runtime::gomaxprocs(), 2);
    return;
}
