//! Outbound deliveries (webhook targets): what was sent, what waits, what failed, and
//! re-sending. The outbox itself lives in the webhook connector.

use crosswalk_connectors::webhook::{self, DeadLetter, OutboxStatus, RetryFilter};
use crosswalk_core::config::Side;

use crate::app::App;
use crate::error::{AppError, ErrorCode};

fn outbox_err(e: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::Internal, format!("the webhook outbox: {e}"))
}

impl App {
    /// Names of this config's webhook connections.
    fn webhook_connections(&self) -> Vec<String> {
        self.config().connections.iter().filter(|(_, d)| d.kind == "webhook").map(|(k, _)| k.clone()).collect()
    }

    /// Per webhook connection, URL and object: sent, pending, failed.
    pub fn outbox(&self) -> Result<Vec<OutboxStatus>, AppError> {
        let mine = self.webhook_connections();
        Ok(webhook::outbox_status(&self.paths().data_dir).map_err(outbox_err)?.into_iter().filter(|s| mine.contains(&s.connection)).collect())
    }

    /// Records that could not be delivered.
    pub fn dead_letters(&self, connection: Option<&str>) -> Result<Vec<DeadLetter>, AppError> {
        let mine = self.webhook_connections();
        Ok(webhook::dead_letters(&self.paths().data_dir, connection).map_err(outbox_err)?.into_iter().filter(|d| mine.contains(&d.connection)).collect())
    }

    /// Queues failed deliveries again; they go out on the next run. Returns how many.
    pub fn retry_dead(&self, connection: Option<&str>) -> Result<usize, AppError> {
        let filter = RetryFilter { connection: connection.map(str::to_string), object: None, ids: None };
        webhook::retry_dead(&self.paths().data_dir, &filter).map_err(outbox_err)
    }

    /// Whether a side of a link is a webhook target.
    pub fn sends_to_webhook(&self, link: &str) -> Option<(Side, String, String)> {
        let l = self.config().links.get(link)?;
        [Side::Left, Side::Right].into_iter().find_map(|s| {
            let ep = l.endpoint(s);
            (self.config().connections.get(&ep.connection)?.kind == "webhook").then(|| (s, ep.connection.clone(), ep.object.clone()))
        })
    }

    /// Prepares a full re-send of a link into a webhook: forgets what was sent and the
    /// link's pairs, so the next run posts every record again (each with its idempotency
    /// key, so a receiver that dedupes sees no change).
    pub fn reset_for_resend(&self, link: &str) -> Result<bool, AppError> {
        let Some((_, connection, object)) = self.sends_to_webhook(link) else { return Ok(false) };
        let outbox = webhook::Outbox::open(&self.paths().data_dir).map_err(outbox_err)?;
        outbox.forget_sent(&connection, Some(&object)).map_err(outbox_err)?;
        self.store().reset_link(link)?;
        Ok(true)
    }
}
