//! The expansion silences its own lints, not the user's.
#![deny(unreachable_code, unused_variables)]

#[gort::main]
async fn main() {
    let unused = 1;
    panic!("stop");
    println!("never");
}
