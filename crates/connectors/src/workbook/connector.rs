//! [`WorkbookConnector`]: the [`Connector`] over one workbook file. Reads go straight to
//! the file (whole sheet, one page); writes queue in memory per sheet and land at `flush`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crosswalk_core::connector::*;
use crosswalk_core::{FieldType, Fields, Value};

use super::config::{Format, WorkbookConfig, DELETED_SHEET};
use super::create::{new_workbook, NewSheet};
use super::plan::{plan_deleted, plan_sheet, Pending};
use super::read::{cell_ref, check_kind, is_1904, read_sheet, SheetData};
use super::versions::{content_hash, note_own_write, save_version};
use super::write::{formula_cells, replace_file, write_back, WritePlan};

/// A sheet as read, with every row's key (fresh ones for keyless rows).
#[derive(Clone, Debug)]
struct SheetView {
    data: SheetData,
    keys: Vec<String>,
    fresh: Vec<bool>,
}

#[derive(Default)]
struct State {
    /// Sheets parsed from the file content with this hash.
    cache: Option<(String, BTreeMap<String, Arc<SheetView>>)>,
    /// Keys handed out for keyless rows: (sheet, row content hash) → keys, in row order.
    fresh: HashMap<(String, u64), Vec<String>>,
    /// Sheets the engine has read (their keyless rows get keys written at flush).
    seen: BTreeSet<String>,
    pending: BTreeMap<String, Pending>,
}

/// The file as read: bytes, content hash, modification time.
struct FileNow {
    bytes: Vec<u8>,
    hash: String,
    mtime: Option<DateTime<Utc>>,
}

/// A workbook connection.
pub struct WorkbookConnector {
    cfg: WorkbookConfig,
    state: Mutex<State>,
}

/// A fresh row key: a random (v4) UUID from the thread's fast RNG (no syscall per key).
fn new_key() -> String {
    uuid::Builder::from_random_bytes(rand::random::<[u8; 16]>()).into_uuid().simple().to_string()
}

fn io_err(file: &str, e: std::io::Error) -> ConnectorError {
    ConnectorError::Unavailable(format!("can't read {file}: {e}"))
}

impl WorkbookConnector {
    pub fn new(cfg: WorkbookConfig) -> Self {
        WorkbookConnector { cfg, state: Mutex::new(State::default()) }
    }

    pub fn config(&self) -> &WorkbookConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn file(&self) -> String {
        self.cfg.file_name()
    }

    /// Reads the file, or `None` when it doesn't exist yet.
    fn read_file(&self) -> Result<Option<FileNow>, ConnectorError> {
        let bytes = match std::fs::read(&self.cfg.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&self.file(), e)),
        };
        check_kind(&self.file(), &bytes, self.cfg.format() == Format::ReadOnly)?;
        let mtime = std::fs::metadata(&self.cfg.path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
        Ok(Some(FileNow { hash: content_hash(&bytes), bytes, mtime }))
    }

    /// A sheet of `file` with keys; `None` when the sheet is missing but configured.
    fn view(&self, st: &mut State, file: &FileNow, sheet: &str) -> Result<Option<Arc<SheetView>>, ConnectorError> {
        if let Some((h, sheets)) = &st.cache {
            if *h == file.hash {
                if let Some(v) = sheets.get(sheet) {
                    return Ok(Some(v.clone()));
                }
            }
        }
        let cfg = self.cfg.sheet(sheet);
        let data = match read_sheet(&self.file(), &file.bytes, sheet, self.cfg.header_row, &cfg) {
            Ok(d) => d,
            Err(ConnectorError::Invalid(m)) if m.contains("has no sheet") && (self.cfg.sheets.contains_key(sheet) || st.pending.contains_key(sheet) || sheet == DELETED_SHEET) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let mut used: HashMap<u64, usize> = HashMap::new();
        let mut keys = Vec::with_capacity(data.rows.len());
        let mut fresh = Vec::with_capacity(data.rows.len());
        for row in &data.rows {
            match &row.key {
                Some(k) => {
                    keys.push(k.clone());
                    fresh.push(false);
                }
                None => {
                    let ch = row.content_key();
                    let n = used.entry(ch).or_default();
                    let list = st.fresh.entry((sheet.to_string(), ch)).or_default();
                    if list.len() <= *n {
                        list.push(new_key());
                    }
                    keys.push(list[*n].clone());
                    *n += 1;
                    fresh.push(true);
                }
            }
        }
        let v = Arc::new(SheetView { data, keys, fresh });
        match &mut st.cache {
            Some((h, sheets)) if *h == file.hash => {
                sheets.insert(sheet.to_string(), v.clone());
            }
            _ => st.cache = Some((file.hash.clone(), BTreeMap::from([(sheet.to_string(), v.clone())]))),
        }
        Ok(Some(v))
    }

    fn records(&self, object: &str) -> Result<Vec<Record>, ConnectorError> {
        let Some(file) = self.read_file()? else { return Ok(vec![]) };
        let mut st = self.lock();
        let v = self.view(&mut st, &file, object)?;
        st.seen.insert(object.to_string());
        let Some(v) = v else { return Ok(vec![]) };
        Ok(v.data.rows.iter().zip(&v.keys).map(|(r, k)| Record { id: k.clone(), fields: r.fields.clone(), updated_at: file.mtime }).collect())
    }

    fn check_writable_format(&self) -> Result<(), ConnectorError> {
        if self.cfg.format() == Format::ReadOnly {
            return Err(ConnectorError::Unsupported(format!(
                "{} is read-only for Crosswalk (.xls and .ods files are read, never written); save it as .xlsx in Excel or LibreOffice and point `path` at the new file",
                self.file()
            )));
        }
        Ok(())
    }

    fn schema_of(&self, sheet: &str, data: Option<&SheetData>) -> ObjectSchema {
        let cfg = self.cfg.sheet(sheet);
        let names: Vec<String> = match data {
            Some(d) if d.has_header => d.headers.iter().map(|(_, h)| h.clone()).collect(),
            _ => cfg.columns.clone(),
        };
        let fields = names
            .iter()
            .map(|n| {
                let ty = cfg.declared_type(n).unwrap_or_else(|| data.map(|d| infer(d, n)).unwrap_or(FieldType::Text));
                let mut f = FieldSchema::new(n, ty);
                f.options = cfg.options.get(n).cloned().unwrap_or_default();
                f
            })
            .collect();
        ObjectSchema { name: sheet.to_string(), label: sheet.to_string(), fields }
    }

    /// Persists the queue. Returns whether the file was written.
    fn flush_now(&self) -> Result<bool, ConnectorError> {
        let file = self.read_file()?;
        let mut st = self.lock();
        let has_pending = st.pending.values().any(|p| !p.is_empty());
        if file.is_none() && !has_pending {
            return Ok(false);
        }
        let Some(file) = file else { return self.create_new(&mut st) };
        let mut plan = WritePlan::default();
        let mut moved: Vec<(String, Fields)> = vec![];
        let sheets: BTreeSet<String> = st.seen.iter().cloned().chain(st.pending.keys().cloned()).collect();
        for sheet in sheets {
            let pending = st.pending.get(&sheet).cloned().unwrap_or_default();
            let view = self.view(&mut st, &file, &sheet)?;
            let cfg = self.cfg.sheet(&sheet);
            let h = self.cfg.header_row - 1;
            match view {
                Some(v) => {
                    if pending.is_empty() && !v.fresh.iter().any(|f| *f) {
                        continue;
                    }
                    let p = plan_sheet(&v.data, &v.keys, &v.fresh, &pending, &cfg, h);
                    for k in &p.lost_updates {
                        tracing::warn!(sheet = %sheet, key = %k, "Row to update is gone from the workbook; the update was dropped");
                    }
                    moved.extend(p.deleted.into_iter().map(|f| (sheet.clone(), f)));
                    if !p.edits.is_empty() {
                        plan.sheets.insert(sheet.clone(), p.edits);
                    }
                }
                None if !pending.creates.is_empty() => {
                    let p = plan_sheet(&SheetData::default(), &[], &[], &pending, &cfg, h);
                    plan.new_sheets.push((sheet.clone(), p.edits));
                }
                None => {}
            }
        }
        if !moved.is_empty() && self.cfg.on_delete == super::config::OnDelete::Move {
            let existing = self.view(&mut st, &file, DELETED_SHEET)?;
            let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let ed = plan_deleted(existing.as_ref().map(|v| &v.data), &moved, &now);
            match existing {
                Some(_) => plan.sheets.insert(DELETED_SHEET.to_string(), ed).map(|_| ()).unwrap_or(()),
                None => plan.new_sheets.push((DELETED_SHEET.to_string(), ed)),
            }
        }
        if plan.sheets.is_empty() && plan.new_sheets.is_empty() {
            st.pending.clear();
            return Ok(false);
        }
        self.check_writable_format()?;
        let out = write_back(&self.file(), &file.bytes, &plan, is_1904(&file.bytes))?;
        for (sheet, cells) in &out.formula_cells {
            for (r, c) in cells {
                tracing::warn!(cell = %format!("{sheet}!{}", cell_ref(*c, *r)), "Cell holds a formula; the change to it was left out");
            }
        }
        self.replace(&file, &out.bytes)?;
        st.pending.clear();
        Ok(true)
    }

    /// Saves the old file as a version and puts `bytes` in its place.
    fn replace(&self, old: &FileNow, bytes: &[u8]) -> Result<(), ConnectorError> {
        super::lock::check_writable(&self.cfg.path)?;
        // Don't overwrite a save the user made while we were working.
        let now = std::fs::read(&self.cfg.path).map_err(|e| io_err(&self.file(), e))?;
        if content_hash(&now) != old.hash {
            return Err(ConnectorError::Unavailable(format!("{} changed while Crosswalk was writing it; the changes stay queued for the next run", self.file())));
        }
        save_version(&self.cfg.data_dir, &self.cfg.path, &old.bytes)
            .map_err(|e| ConnectorError::Other(format!("saving a version of {} in {}: {e}", self.file(), self.cfg.data_dir.display())))?;
        note_own_write(&content_hash(bytes));
        replace_file(&self.cfg.path, bytes).map_err(|e| ConnectorError::Unavailable(format!("writing {}: {e}", self.file())))
    }

    fn create_new(&self, st: &mut State) -> Result<bool, ConnectorError> {
        self.check_writable_format()?;
        let mut names: Vec<String> = self.cfg.sheets.iter().filter(|(_, c)| !c.columns.is_empty()).map(|(n, _)| n.clone()).collect();
        for (n, p) in &st.pending {
            if !p.creates.is_empty() && !names.contains(n) {
                names.push(n.clone());
            }
        }
        let sheets: Vec<NewSheet> = names
            .iter()
            .map(|n| {
                let cfg = self.cfg.sheet(n);
                let rows = st.pending.get(n).map(|p| p.creates.clone()).unwrap_or_default();
                let mut columns = cfg.columns.clone();
                for (_, f) in &rows {
                    for k in f.keys() {
                        if !columns.contains(k) && k != super::KEY_HEADER {
                            columns.push(k.clone());
                        }
                    }
                }
                NewSheet { name: n.clone(), columns, rows, cfg }
            })
            .collect();
        let bytes = new_workbook(&self.file(), &sheets, self.cfg.header_row)?;
        super::lock::check_writable(&self.cfg.path)?;
        note_own_write(&content_hash(&bytes));
        if let Some(dir) = self.cfg.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        replace_file(&self.cfg.path, &bytes).map_err(|e| ConnectorError::Unavailable(format!("writing {}: {e}", self.file())))?;
        st.pending.clear();
        Ok(true)
    }
}

/// A column's type from its values: all numbers → decimal, all booleans → bool, all dates
/// → date, otherwise text.
fn infer(d: &SheetData, name: &str) -> FieldType {
    let mut ty: Option<FieldType> = None;
    for r in &d.rows {
        let t = match r.fields.get(name) {
            None | Some(Value::Null) => continue,
            Some(Value::Int(_) | Value::Float(_) | Value::Decimal(_)) => FieldType::Decimal,
            Some(Value::Bool(_)) => FieldType::Bool,
            Some(Value::Date(_)) => FieldType::Date,
            Some(Value::DateTime(_)) => FieldType::DateTime,
            Some(_) => return FieldType::Text,
        };
        match ty {
            None => ty = Some(t),
            Some(prev) if prev == t => {}
            Some(FieldType::Date | FieldType::DateTime) if matches!(t, FieldType::Date | FieldType::DateTime) => ty = Some(FieldType::DateTime),
            Some(_) => return FieldType::Text,
        }
    }
    ty.unwrap_or(FieldType::Text)
}

fn same(a: &Value, b: &Value) -> bool {
    !a.is_null() && a.display().trim() == b.display().trim()
}

#[async_trait]
impl Connector for WorkbookConnector {
    fn kind(&self) -> &'static str {
        "workbook"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_batch: 10_000, incremental: false, deletes_visible: true, webhooks: false, buffered_writes: true }
    }

    async fn health(&self) -> Result<Identity, ConnectorError> {
        let display = match self.read_file()? {
            Some(_) => format!("{}", self.cfg.path.display()),
            None => format!("{} (not created yet; Crosswalk creates it on the first write)", self.cfg.path.display()),
        };
        Ok(Identity { display, details: vec![("path".into(), self.cfg.path.display().to_string())] })
    }

    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        let Some(file) = self.read_file()? else {
            return Ok(self.cfg.sheets.iter().filter(|(_, c)| !c.columns.is_empty()).map(|(n, _)| self.schema_of(n, None)).collect());
        };
        let names = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(&file.bytes[..]))
            .map(|wb| calamine::Reader::sheet_names(&wb))
            .map_err(|e| ConnectorError::Invalid(format!("{} could not be read as a workbook ({e})", self.file())))?;
        let mut out = vec![];
        let mut st = self.lock();
        for n in names.iter().filter(|n| *n != DELETED_SHEET) {
            let v = self.view(&mut st, &file, n)?;
            out.push(self.schema_of(n, v.as_ref().map(|v| &v.data)));
        }
        for (n, c) in &self.cfg.sheets {
            if !names.contains(n) && !c.columns.is_empty() {
                out.push(self.schema_of(n, None));
            }
        }
        Ok(out)
    }

    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        Ok(Page { records: self.records(&req.object)?, next_page: None, cursor: None })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        Ok(self.records(object)?.into_iter().filter(|r| want.contains(r.id.as_str())).collect())
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        Ok(self.records(object)?.into_iter().filter(|r| values.iter().any(|v| same(r.get(field), v))).collect())
    }

    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.check_writable_format()?;
        let mut st = self.lock();
        let p = st.pending.entry(object.to_string()).or_default();
        Ok(records
            .into_iter()
            .map(|fields| {
                let key = new_key();
                p.creates.push((key.clone(), fields.clone()));
                Ok(Record { id: key, fields, updated_at: None })
            })
            .collect())
    }

    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.check_writable_format()?;
        let file = self.read_file()?;
        let mut st = self.lock();
        let view = match &file {
            Some(f) => self.view(&mut st, f, object)?,
            None => None,
        };
        let mut formulas = None;
        let mut out = Vec::with_capacity(patches.len());
        for patch in patches {
            let p = st.pending.entry(object.to_string()).or_default();
            if let Some((_, fields)) = p.creates.iter_mut().find(|(k, _)| *k == patch.id) {
                fields.extend(patch.fields.clone());
                out.push(Ok(Record { id: patch.id, fields: fields.clone(), updated_at: None }));
                continue;
            }
            let Some((v, i)) = view.as_ref().and_then(|v| v.keys.iter().position(|k| *k == patch.id).map(|i| (v, i))) else {
                out.push(Err(ConnectorError::NotFound(format!("row {} is not in sheet {object:?} of {} (deleted meanwhile?)", patch.id, self.file()))));
                continue;
            };
            let row = &v.data.rows[i];
            if formulas.is_none() {
                formulas = Some(match &file {
                    Some(f) => formula_cells(&self.file(), &f.bytes, object)?,
                    None => Default::default(),
                });
            }
            let fcells = formulas.as_ref().expect("set above");
            let mut blocked = vec![];
            let mut fields = Fields::new();
            for (name, val) in patch.fields {
                match v.data.column_of(&name) {
                    Some(c) if fcells.contains(&(row.row, c)) => blocked.push(format!("{object}!{}", cell_ref(c, row.row))),
                    _ => {
                        fields.insert(name, val);
                    }
                }
            }
            let mut merged = row.fields.clone();
            merged.extend(fields.clone());
            if !fields.is_empty() {
                p.updates.entry(patch.id.clone()).or_default().extend(fields);
            }
            if blocked.is_empty() {
                out.push(Ok(Record { id: patch.id, fields: merged, updated_at: None }));
            } else {
                out.push(Err(ConnectorError::Invalid(format!(
                    "{} holds a formula; the change to it was left out (edit the formula in the workbook if the value should change)",
                    blocked.join(", ")
                ))));
            }
        }
        Ok(out)
    }

    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.check_writable_format()?;
        let file = self.read_file()?;
        let mut st = self.lock();
        let view = match &file {
            Some(f) => self.view(&mut st, f, object)?,
            None => None,
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let p = st.pending.entry(object.to_string()).or_default();
            if let Some(pos) = p.creates.iter().position(|(k, _)| *k == id) {
                let (_, fields) = p.creates.remove(pos);
                out.push(Ok(Record { id, fields, updated_at: None }));
                continue;
            }
            match view.as_ref().and_then(|v| v.keys.iter().position(|k| *k == id).map(|i| v.data.rows[i].fields.clone())) {
                Some(fields) => {
                    p.updates.remove(&id);
                    p.deletes.insert(id.clone());
                    out.push(Ok(Record { id, fields, updated_at: None }));
                }
                None => out.push(Err(ConnectorError::NotFound(format!("row {id} is not in sheet {object:?} of {}", self.file())))),
            }
        }
        Ok(out)
    }

    async fn ready_to_write(&self) -> Result<(), ConnectorError> {
        if self.cfg.format() == Format::ReadOnly {
            return Ok(());
        }
        super::lock::check_writable(&self.cfg.path)
    }

    async fn flush(&self) -> Result<(), ConnectorError> {
        if self.cfg.format() == Format::ReadOnly && self.lock().pending.values().all(Pending::is_empty) {
            return Ok(());
        }
        super::lock::check_writable(&self.cfg.path)?;
        self.flush_now().map(|_| ())
    }
}
