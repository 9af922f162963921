#[gort::test]
async fn takes_args(a: u32, b: u32) {
    let _ = a + b;
}

fn main() {}
