//! The plain form, with the body's tail expression left as `()`.

#[gort::main]
async fn main() {
    gort::yield_now().await
}
