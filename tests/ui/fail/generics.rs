#[gort::test]
async fn generic<T: Default>() {
    let _ = T::default();
}

#[gort::test]
async fn where_clause()
where
    u8: Copy,
{
}

fn main() {}
