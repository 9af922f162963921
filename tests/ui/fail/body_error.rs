//! An ordinary error inside the body points at the user's code.
#[gort::main]
async fn main() {
    let x: u32 = "not a number";
    let _ = x;
}
