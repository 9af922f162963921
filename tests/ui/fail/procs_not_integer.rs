#[gort::main(procs = "x")]
async fn main() {}

#[gort::test(procs = 1.5)]
async fn float() {}

#[gort::test(procs = 2u8)]
async fn suffixed() {}

#[gort::test(procs)]
async fn bare() {}
