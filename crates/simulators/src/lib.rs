//! Crosswalk simulators: faithful local servers of each vendor's API on 127.0.0.1, for
//! tests, benchmarks and `crosswalk demo`. They are not the product: every connector must
//! also be right against the real API described in `API_FACTS.md`.
//!
//! Each simulator exposes `spawn(options) -> Handle { base_url, .. }` on port 0 by
//! default, stops when the handle is dropped, and offers test hooks (seed data, edit as a
//! user, read back, request counters, fault switches).

pub mod frappe;
pub mod payamgostar;
pub mod siagh;
pub mod twenty;
pub mod webhook_receiver;
pub mod wefact;
pub mod zoho;

pub use siagh::{SavedPreInvoice, SiaghCounters, SiaghSim, SiaghSimHandle, SiaghSimOptions};
pub use payamgostar::{PayamgostarCounters, PayamgostarSim, PayamgostarSimHandle, PayamgostarSimOptions};
pub use frappe::{FrappeCounters, FrappeSim, FrappeSimHandle, FrappeSimOptions};
pub use twenty::{SeedIds, SimCounters, SimFault, TwentySim, TwentySimHandle, TwentySimOptions};
pub use webhook_receiver::{verify_hex_signature, Received, ReceiverFault, WebhookReceiver, WebhookReceiverHandle, WebhookReceiverOptions};
pub use wefact::{WeFactCounters, WeFactSim, WeFactSimHandle, WeFactSimOptions};
pub use zoho::{SimClient, SimRequest, ZohoCounters, ZohoSim, ZohoSimHandle, ZohoSimOptions};

/// A simulator's running HTTP server on its own task: stops when dropped; [`Server::stop`]
/// also waits until it has finished.
pub(crate) struct Server {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Serves `app` on `listener` until stopped.
    pub(crate) fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> Server {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let join = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Server { shutdown: Some(tx), join: Some(join) }
    }

    /// Stops the server and waits for it to finish.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
