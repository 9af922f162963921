#[gort::test(leak_check, timeout = "5s", leak_check)]
async fn t() {}

fn main() {}
