//! Small helpers shared by the name server and the broker.

/// Resolves once the watched flag is true (or its sender is gone). The borrow of the value
/// is released before returning, so the future stays `Send`.
pub async fn until_true(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}
