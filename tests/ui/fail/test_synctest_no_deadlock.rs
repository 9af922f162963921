#[gort::test(synctest, procs = 1, detect_deadlock = false)]
async fn t() {}

fn main() {}
