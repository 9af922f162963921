//! `#[gort::main]` returning a `Result`, using `?` with a conversion.

#[gort::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = "21".parse()?;
    let doubled = gort::spawn(async move { n * 2 }).await?;
    assert_eq!(doubled, 42);
    Ok(())
}
