//! The zoho-zoho transfer job (`crosswalk transfer`): Zoho CRM org A → org B + WorkDrive.
//!
//! For every record of the origin module whose checkbox (`Transfer_Complete`) is false
//! and whose record name is set:
//! 1. find the record in org B by record name (search, then a local case-insensitive
//!    exact match; the most recently modified when several) — none: skipped;
//! 2. copy the configured fields (WorkDrive URL and folder id by default) to it and mark
//!    its origin field (`Record_Updated_From`);
//! 3. find the WorkDrive folder named like the record in org B's team folder (same rule;
//!    never created — none: logged and skipped);
//! 4. copy the record's attachments there (a taken name becomes `name_YYYYMMDD_HHMMSS.ext`),
//!    one failing attachment not stopping the others;
//! 5. tick the checkbox in A when at least one attachment was uploaded.
//!
//! `dry_run` reads everything and writes nothing (no update, no download, no upload). A
//! record *succeeded* when it was fully done; skipped and failed records make the run
//! partial (exit code 1). Every run is in the state store's run log (link
//! `transfer:<origin>`), with one change row per record, and reports the API credits spent.

use crosswalk_connectors::zoho::client::{id_of, text_of};
use crosswalk_connectors::zoho::{find_by_name, TransferSettings, WdItem, ZohoConnector};
use crosswalk_core::store::{ChangeRow, Store};
use crosswalk_core::ConnectorError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::error::{AppError, ErrorCode};
use crate::App;

/// What `crosswalk transfer` was asked.
#[derive(Clone, Debug, Default)]
pub struct TransferOptions {
    pub dry_run: bool,
    /// Only this origin record (its checkbox is not looked at).
    pub record_id: Option<String>,
    /// At most this many records.
    pub limit: Option<usize>,
}

/// How one record went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Done,
    /// Dry run: what would happen was logged.
    WouldTransfer,
    Skipped,
    Failed,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Done => "done",
            RecordStatus::WouldTransfer => "would transfer",
            RecordStatus::Skipped => "skipped",
            RecordStatus::Failed => "failed",
        }
    }
}

/// One origin record's outcome (no secrets, no payloads).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordOutcome {
    pub record_id: String,
    pub name: String,
    pub status: RecordStatus,
    pub target_id: Option<String>,
    pub folder_id: Option<String>,
    /// Names the attachments got in WorkDrive.
    pub uploaded: Vec<String>,
    /// `file name: reason` of attachments that failed.
    pub failed: Vec<String>,
    /// The checkbox in A was ticked.
    pub ticked: bool,
    pub message: String,
}

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferReport {
    pub run_id: i64,
    pub from: String,
    pub to: String,
    pub dry_run: bool,
    pub records: Vec<RecordOutcome>,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    pub attachments_uploaded: usize,
    pub attachments_failed: usize,
    /// CRM API credits spent in org A and org B (one per CRM call answered).
    pub credits_from: u64,
    pub credits_to: u64,
    pub workdrive_calls: u64,
    pub token_refreshes: u64,
    pub rate_limited: u64,
}

impl TransferReport {
    /// Every record succeeded (a dry run: nothing would be skipped or fail).
    pub fn ok(&self) -> bool {
        self.skipped == 0 && self.failed == 0
    }

    pub fn one_line(&self) -> String {
        let verb = if self.dry_run { "would transfer" } else { "done" };
        format!(
            "{} {verb}, {} skipped, {} failed; {} attachment(s) uploaded, {} failed; API credits: {} {}, {} {}",
            self.done, self.skipped, self.failed, self.attachments_uploaded, self.attachments_failed, self.from, self.credits_from, self.to, self.credits_to
        )
    }
}

struct Job<'a> {
    t: &'a TransferSettings,
    from: &'a str,
    a: &'a ZohoConnector,
    b: &'a ZohoConnector,
    team_folder: String,
    folders: Option<Vec<WdItem>>,
    dry_run: bool,
}

fn field_text(r: &Map<String, Json>, f: &str) -> String {
    r.get(f).map(text_of).unwrap_or_default().trim().to_string()
}

fn is_checked(v: Option<&Json>) -> bool {
    match v {
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn modified(r: &Map<String, Json>) -> Option<chrono::DateTime<chrono::Utc>> {
    r.get("Modified_Time").and_then(Json::as_str).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&chrono::Utc))
}

impl Job<'_> {
    async fn folders(&mut self) -> Result<&[WdItem], ConnectorError> {
        if self.folders.is_none() {
            self.folders = Some(self.b.client().child_folders(&self.team_folder).await?);
        }
        Ok(self.folders.as_deref().unwrap_or_default())
    }

    async fn one(&mut self, rec: &Map<String, Json>) -> Result<RecordOutcome, ConnectorError> {
        let t = self.t;
        let id = id_of(rec).unwrap_or_default();
        let name = field_text(rec, &t.name_field);
        let mut out = RecordOutcome { record_id: id.clone(), name: name.clone(), status: RecordStatus::Skipped, target_id: None, folder_id: None, uploaded: vec![], failed: vec![], ticked: false, message: String::new() };
        if name.is_empty() {
            out.message = format!("the record name ({}) is empty", t.name_field);
            return Ok(out);
        }
        // 1. The record in B.
        let hits = self.b.client().search_exact(&t.target_module, &t.name_field, &name, &[t.name_field.clone(), "Modified_Time".into()], true).await?;
        let Some(target) = hits.iter().max_by_key(|r| modified(r)) else {
            out.message = format!("no {} record named {name:?} in {}", t.target_module, t.to);
            return Ok(out);
        };
        let target_id = id_of(target).unwrap_or_default();
        out.target_id = Some(target_id.clone());
        // 2. Copy the fields and mark the origin.
        let mut patch = Map::new();
        patch.insert("id".into(), Json::String(target_id.clone()));
        for (from, to) in &t.copy_fields {
            patch.insert(to.clone(), rec.get(from).cloned().unwrap_or(Json::Null));
        }
        let origin = t.origin_value.replace("{record_id}", &id).replace("{record_name}", &name).replace("{connection}", self.from);
        patch.insert(t.origin_field.clone(), Json::String(origin));
        if !self.dry_run {
            if let Some(Err(e)) = self.b.client().update(&t.target_module, vec![patch]).await?.into_iter().next() {
                out.status = RecordStatus::Failed;
                out.message = format!("could not update {} record {target_id}: {e}", t.to);
                return Ok(out);
            }
        }
        // 3. The folder.
        let folder = find_by_name(self.folders().await?, &name).cloned();
        let Some(folder) = folder else {
            out.message = format!("{}no WorkDrive folder named {name:?} in team folder {}; not creating one", if self.dry_run { "" } else { "fields copied, but " }, self.team_folder);
            return Ok(out);
        };
        out.folder_id = Some(folder.id.clone());
        // 4. Attachments.
        let atts = self.a.client().attachments(&t.module, &id).await?;
        if self.dry_run {
            out.status = RecordStatus::WouldTransfer;
            out.message = format!("would copy {} field(s) to {} record {target_id} and {} attachment(s) to folder {:?}{}", t.copy_fields.len(), t.to, atts.len(), folder.name, if atts.is_empty() { "" } else { ", then tick the checkbox" });
            return Ok(out);
        }
        for att in &atts {
            let moved = match self.a.client().download_attachment(&t.module, &id, &att.id).await {
                Ok(bytes) => self.b.client().upload_keeping_both(&folder.id, &att.file_name, &bytes, chrono::Utc::now()).await,
                Err(e) => Err(e),
            };
            match moved {
                Ok(item) => out.uploaded.push(item.name),
                Err(e @ ConnectorError::Auth(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(record = %id, file = %att.file_name, error = %e, "An attachment could not be transferred");
                    out.failed.push(format!("{}: {e}", att.file_name));
                }
            }
        }
        // 5. Tick the checkbox in A.
        if !out.uploaded.is_empty() {
            let mut tick = Map::new();
            tick.insert("id".into(), Json::String(id.clone()));
            tick.insert(t.checkbox_field.clone(), Json::Bool(true));
            match self.a.client().update(&t.module, vec![tick]).await?.into_iter().next() {
                Some(Ok(_)) => out.ticked = true,
                Some(Err(e)) => out.failed.push(format!("ticking {}: {e}", t.checkbox_field)),
                None => out.failed.push(format!("ticking {}: no answer", t.checkbox_field)),
            }
        }
        out.status = if out.failed.is_empty() { RecordStatus::Done } else { RecordStatus::Failed };
        out.message = match (atts.len(), out.failed.len()) {
            (0, _) => format!("fields copied to {} record {target_id}; no attachments, checkbox left unticked", t.to),
            (n, 0) => format!("fields copied to {} record {target_id}; {n} attachment(s) uploaded to {:?}; checkbox ticked", t.to, folder.name),
            (n, f) => format!("{} of {n} attachment(s) uploaded to {:?}, {f} failed ({}){}", out.uploaded.len(), folder.name, out.failed.join("; "), if out.ticked { "; checkbox ticked" } else { "" }),
        };
        Ok(out)
    }
}

/// Whether a config holds a transfer job (a zoho connection with a `transfer` table):
/// such a config needs no links.
pub fn has_transfer_job(cfg: &crosswalk_core::Config) -> bool {
    cfg.connections.values().any(|d| d.kind == "zoho" && d.settings.contains_key("transfer"))
}

impl App {
    /// The zoho connections that are transfer origins (`[connections.NAME.transfer]`).
    pub fn transfer_origins(&self) -> Vec<String> {
        self.config().connections.iter().filter(|(_, d)| d.kind == "zoho" && d.settings.contains_key("transfer")).map(|(k, _)| k.clone()).collect()
    }

    fn zoho_connector(&self, name: &str) -> Result<ZohoConnector, AppError> {
        let (def, _) = crate::zoho_auth::zoho_config(self, name)?;
        let secret = crate::zoho_auth::connection_secret(name, &def)?;
        let mut settings = def.settings.clone();
        for k in crate::app::ENGINE_SETTINGS {
            settings.remove(*k);
        }
        let c = ZohoConnector::from_settings(name, &settings, Some(&secret)).map_err(|e| AppError::bad_config(format!("connections.{name}.{}: {}", e.key, e.message)))?;
        Ok(c.with_token_cache(std::sync::Arc::new(crate::zoho_auth::KeyringTokenCache::new(name))))
    }

    /// Runs the transfer job of `origin` (default: the only transfer origin). Calls
    /// `on_record` after each record (a log line per record).
    pub async fn transfer(&self, origin: Option<&str>, opts: &TransferOptions, on_record: &(dyn Fn(&RecordOutcome) + Send + Sync)) -> Result<TransferReport, AppError> {
        let origins = self.transfer_origins();
        let from = match origin {
            Some(o) if origins.iter().any(|x| x == o) => o.to_string(),
            Some(o) => return Err(AppError::new(ErrorCode::NotFound, format!("connection {o:?} has no [connections.{o}.transfer] table; transfer origins: {}", origins.join(", ")))),
            None if origins.len() == 1 => origins[0].clone(),
            None => return Err(AppError::new(ErrorCode::BadInput, format!("name the transfer origin: one of {}", if origins.is_empty() { "(none; set one up with `crosswalk init zoho-zoho`)".into() } else { origins.join(", ") }))),
        };
        let (_, cfg) = crate::zoho_auth::zoho_config(self, &from)?;
        let t = cfg.transfer.clone().ok_or_else(|| AppError::bad_config(format!("connections.{from}.transfer is missing")))?;
        let (_, bcfg) = crate::zoho_auth::zoho_config(self, &t.to)?;
        let team_folder = bcfg.workdrive_team_folder_id.clone().ok_or_else(|| AppError::bad_config(format!("connections.{}.workdrive_team_folder_id is missing: the WorkDrive team folder where the record folders are", t.to)))?;
        let a = self.zoho_connector(&from)?;
        let b = self.zoho_connector(&t.to)?;
        let link = format!("transfer:{from}");
        let run_id = self.store().start_run(&link, if opts.dry_run { "dry_run" } else { "transfer" }, "manual")?;
        let result = self.transfer_run(&from, &t, &a, &b, team_folder, opts, on_record).await;
        let (sa, sb) = (a.client().stats(), b.client().stats());
        let records = match result {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("stopped: {e} (API credits: {from} {}, {} {})", sa.crm_credits, t.to, sb.crm_credits);
                self.store().finish_run(run_id, "failed", &serde_json::json!({}), Some(&msg))?;
                return Err(AppError::from(e));
            }
        };
        let count = |s: RecordStatus| records.iter().filter(|r| r.status == s).count();
        let report = TransferReport {
            run_id,
            from: from.clone(),
            to: t.to.clone(),
            dry_run: opts.dry_run,
            done: count(RecordStatus::Done) + count(RecordStatus::WouldTransfer),
            skipped: count(RecordStatus::Skipped),
            failed: count(RecordStatus::Failed),
            attachments_uploaded: records.iter().map(|r| r.uploaded.len()).sum(),
            attachments_failed: records.iter().map(|r| r.failed.len()).sum(),
            credits_from: sa.crm_credits,
            credits_to: sb.crm_credits,
            workdrive_calls: sa.workdrive_calls + sb.workdrive_calls,
            token_refreshes: sa.token_refreshes + sb.token_refreshes,
            rate_limited: sa.rate_limited + sb.rate_limited,
            records,
        };
        let changes: Vec<ChangeRow> = report
            .records
            .iter()
            .map(|r| ChangeRow {
                run_id,
                side: "left".into(),
                record_id: r.record_id.clone(),
                action: match r.status {
                    RecordStatus::Done => "update",
                    RecordStatus::WouldTransfer => "planned",
                    RecordStatus::Skipped => "skipped",
                    RecordStatus::Failed => "failed",
                }
                .into(),
                field: None,
                before: None,
                after: r.target_id.clone(),
                note: Some(format!("{}: {}", r.name, r.message)),
            })
            .collect();
        self.store().transaction(|tx| Store::add_changes_tx(tx, &changes))?;
        let status = if opts.dry_run { "dry_run" } else if report.ok() { "ok" } else { "partial" };
        let summary = serde_json::to_value(serde_json::json!({"transfer": {"done": report.done, "skipped": report.skipped, "failed": report.failed, "attachments_uploaded": report.attachments_uploaded, "attachments_failed": report.attachments_failed, "credits_from": report.credits_from, "credits_to": report.credits_to}})).unwrap_or_default();
        self.store().finish_run(run_id, status, &summary, Some(&report.one_line()))?;
        tracing::info!(from = %from, to = %t.to, done = report.done, skipped = report.skipped, failed = report.failed, "Transfer finished");
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    async fn transfer_run(&self, from: &str, t: &TransferSettings, a: &ZohoConnector, b: &ZohoConnector, team_folder: String, opts: &TransferOptions, on_record: &(dyn Fn(&RecordOutcome) + Send + Sync)) -> Result<Vec<RecordOutcome>, ConnectorError> {
        let mut fields = vec![t.name_field.clone(), t.checkbox_field.clone(), "Modified_Time".to_string()];
        for (f, _) in &t.copy_fields {
            if !fields.contains(f) {
                fields.push(f.clone());
            }
        }
        let limit = opts.limit.unwrap_or(usize::MAX);
        let mut todo: Vec<Map<String, Json>> = vec![];
        if let Some(id) = &opts.record_id {
            let got = a.client().get_records(&t.module, std::slice::from_ref(id), &fields).await?;
            if got.is_empty() {
                return Err(ConnectorError::NotFound(format!("{from} has no {} record {id}", t.module)));
            }
            todo = got;
        } else {
            let mut cursor = crosswalk_connectors::zoho::PageCursor { page: 1, token: None };
            loop {
                let (page, next) = a.client().records_page(&t.module, &fields, &cursor, None).await?;
                let more = page.more;
                todo.extend(page.data.into_iter().filter(|r| !is_checked(r.get(&t.checkbox_field)) && !field_text(r, &t.name_field).is_empty()));
                if !more || todo.len() >= limit {
                    break;
                }
                cursor = next;
            }
        }
        todo.truncate(limit);
        let mut job = Job { t, from, a, b, team_folder, folders: None, dry_run: opts.dry_run };
        let mut out = vec![];
        for rec in &todo {
            let r = match job.one(rec).await {
                Ok(r) => r,
                Err(e @ ConnectorError::Auth(_)) => return Err(e),
                Err(e) => RecordOutcome {
                    record_id: id_of(rec).unwrap_or_default(),
                    name: field_text(rec, &t.name_field),
                    status: RecordStatus::Failed,
                    target_id: None,
                    folder_id: None,
                    uploaded: vec![],
                    failed: vec![],
                    ticked: false,
                    message: e.to_string(),
                },
            };
            on_record(&r);
            out.push(r);
        }
        Ok(out)
    }
}
