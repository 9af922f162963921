//! A body whose value does not match the declared return type: the error
//! points at the user's tail expression and return type.
#[gort::main]
async fn main() -> Result<(), std::io::Error> {
    42
}
