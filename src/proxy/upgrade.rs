//! Upgrade/WebSocket pass-through: after a 101, bytes are copied both ways until either side closes.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

/// Joins the client's upgraded connection to the origin's and copies until one side ends or the
/// process shuts down. The task owns both halves; nothing outlives it.
pub fn spawn_tunnel(client: OnUpgrade, upstream: OnUpgrade, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade did not complete");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        tokio::select! {
            result = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "upgraded connection ended with an error");
                }
            }
            () = shutdown.cancelled() => {}
        }
    });
}
