#[gort::test(procs = 1, synctset)]
async fn t() {}

#[gort::test(leak_chek)]
async fn u() {}

fn main() {}
