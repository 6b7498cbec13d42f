//! todo
pub async fn run_all() {}
