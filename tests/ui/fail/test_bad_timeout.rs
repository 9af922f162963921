#[gort::test(timeout = "5 s", detect_deadlock = "no")]
async fn t() {}

fn main() {}
