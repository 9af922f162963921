#[gort::main(synctest, leak_check)]
async fn main() {}
