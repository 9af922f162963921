#[gort::test(synctest = true)]
async fn t() {}

#[gort::test(leak_check(1s))]
async fn u() {}

fn main() {}
