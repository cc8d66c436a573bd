//! Killing the process at a chosen connector call, for any connector.
//!
//! [`Killable`] wraps a connector. Armed with (call kind, n, before/after), the n-th such
//! call either never goes out or goes out and lands — and then the call never returns and
//! the [`KillSwitch`] fires. The harness races the run against the switch and drops the
//! run's future when it fires: exactly what a killed process leaves behind, with no
//! wall-clock time-out involved (so a seed replays identically).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crosswalk_connectors::memory::Call;
use crosswalk_core::connector::{Capabilities, Connector, ConnectorError, Identity, ListRequest, ObjectSchema, Page, Record, RecordPatch, WriteResult};
use crosswalk_core::value::{Fields, Value};
use tokio::sync::Notify;

/// Where the next kill happens, and whether it happened.
#[derive(Debug, Default)]
pub struct KillSwitch {
    /// (call, calls of that kind still to let through, kill after the call landed)
    armed: Mutex<Option<(Call, usize, bool)>>,
    fired: AtomicBool,
    notify: Notify,
}

impl KillSwitch {
    pub fn arm(&self, call: Call, nth: usize, after: bool) {
        *self.armed.lock().unwrap() = Some((call, nth, after));
        self.fired.store(false, Ordering::SeqCst);
    }

    pub fn disarm(&self) {
        *self.armed.lock().unwrap() = None;
        self.fired.store(false, Ordering::SeqCst);
    }

    /// Resolves once the switch fired (the process "died").
    pub async fn fired(&self) {
        loop {
            let n = self.notify.notified();
            if self.fired.load(Ordering::SeqCst) {
                return;
            }
            n.await;
        }
    }

    /// `Some(after)` when this call is the one to die at.
    fn check(&self, call: Call) -> Option<bool> {
        let mut armed = self.armed.lock().unwrap();
        match armed.as_mut() {
            Some((c, n, after)) if *c == call => {
                if *n == 0 {
                    let after = *after;
                    *armed = None;
                    Some(after)
                } else {
                    *n -= 1;
                    None
                }
            }
            _ => None,
        }
    }

    /// Fires the switch and never returns.
    async fn die(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        futures::future::pending::<()>().await;
    }
}

/// A connector whose calls can be killed (see the module docs).
pub struct Killable {
    pub inner: Arc<dyn Connector>,
    pub switch: Arc<KillSwitch>,
}

impl Killable {
    async fn gate<T>(&self, call: Call, f: impl std::future::Future<Output = T>) -> T {
        let kill = self.switch.check(call);
        if kill == Some(false) {
            self.switch.die().await;
        }
        let out = f.await;
        if kill == Some(true) {
            self.switch.die().await;
        }
        out
    }
}

#[async_trait]
impl Connector for Killable {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn health(&self) -> Result<Identity, ConnectorError> {
        self.inner.health().await
    }
    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        self.inner.describe().await
    }
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        self.gate(Call::List, self.inner.list(req)).await
    }
    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        self.gate(Call::Get, self.inner.get(object, ids)).await
    }
    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        self.gate(Call::Find, self.inner.find(object, field, values)).await
    }
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.gate(Call::Create, self.inner.create(object, records)).await
    }
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.gate(Call::Update, self.inner.update(object, patches)).await
    }
    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.gate(Call::Delete, self.inner.delete(object, ids)).await
    }
    async fn ready_to_write(&self) -> Result<(), ConnectorError> {
        self.inner.ready_to_write().await
    }
    async fn flush(&self) -> Result<(), ConnectorError> {
        self.inner.flush().await
    }
}
