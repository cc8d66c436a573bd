//! A running scenario: both systems, the engine's state file, and a model of what users
//! did since the last check (for the lost-update invariant).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crosswalk_core::config::{ConflictPolicy, Direction, Endpoint, FieldMap, LinkDef, MassDeleteBrake, MatchKey, Transform, Triggers};
use crosswalk_core::connector::{Connector, Record};
use crosswalk_core::planner::{to_link, LinkSpec};
use crosswalk_core::runner::{self, LinkRun, NoProgress, RunMode, RunOptions, RunReport, RunStatus};
use crosswalk_core::store::{ConflictStatus, Store};
use crosswalk_core::value::{FieldType, Fields, Value};
use crosswalk_core::Side;

use super::crash::{KillSwitch, Killable};
use super::ops::{Backend, FaultSpec, Op, Raw, Scenario, Vals, FIELDS, QTY, TAG};
use super::system::System;
use super::{Failure, Stats};

pub const LINK: &str = "sim";

pub fn idx(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

/// Field names of each side for a backend.
pub fn names(backend: Backend, side: Side) -> [&'static str; FIELDS] {
    match (backend, side) {
        (Backend::TwentyMemory, Side::Left) => super::twenty::NAMES,
        (_, Side::Left) => super::ops::LEFT_NAMES,
        (_, Side::Right) => super::ops::RIGHT_NAMES,
    }
}

pub fn link_spec(sc: &Scenario) -> LinkSpec {
    let (ln, rn) = (names(sc.backend, Side::Left), names(sc.backend, Side::Right));
    let fields = (0..FIELDS)
        .map(|i| FieldMap {
            left: ln[i].into(),
            right: rn[i].into(),
            field_type: Some(if i == QTY { FieldType::Integer } else { FieldType::Text }),
            transform: (i == 2 && sc.lower_email).then_some(Transform::Lower),
            direction: None,
            values: Default::default(),
        })
        .collect();
    let def = LinkDef {
        left: Endpoint { connection: "left".into(), object: if sc.backend == Backend::TwentyMemory { super::twenty::OBJECT.into() } else { super::system::OBJECT.into() } },
        right: Endpoint { connection: "right".into(), object: super::system::OBJECT.into() },
        direction: Direction::TwoWay,
        match_key: sc.natural_key.then(|| MatchKey { left: ln[TAG].into(), right: rn[TAG].into() }),
        id_field: None,
        fields,
        conflict: sc.conflict,
        tie_break: sc.tie_break,
        deletes: sc.deletes,
        mass_delete: MassDeleteBrake::default(),
        filters: vec![],
        after_write: vec![],
        triggers: Triggers::default(),
    };
    LinkSpec::new(LINK, def, |_| None)
}

/// A user's edit not yet known to be on both sides.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Link-space value the user set.
    pub value: Value,
    /// When (step number) it was made.
    pub step: usize,
}

/// What the users did since the last quiescent check.
#[derive(Default, Debug)]
pub struct Model {
    /// (side, tag, field) → the last edit there.
    pub pending: BTreeMap<(Side, String, usize), Pending>,
    /// Tags a user deleted, per side.
    pub deleted: [BTreeSet<String>; 2],
    /// (tag, field) → step at which a person answered a conflict on it.
    pub resolved: BTreeMap<(String, usize), usize>,
}

pub struct World {
    pub sc: Scenario,
    pub spec: LinkSpec,
    pub sys: [System; 2],
    pub switches: [Arc<KillSwitch>; 2],
    conns: [Arc<dyn Connector>; 2],
    _dir: tempfile::TempDir,
    db: PathBuf,
    pub store: Store,
    pub model: Model,
    /// Runs whose id is above this are in the current window.
    pub window_start_run: i64,
    pub step: usize,
    pub stats: Stats,
}

fn tmp_root() -> Option<PathBuf> {
    let shm = PathBuf::from("/dev/shm");
    shm.is_dir().then_some(shm)
}

impl World {
    pub async fn new(sc: &Scenario) -> World {
        let spec = link_spec(sc);
        let sys = match sc.backend {
            Backend::MemoryMemory => [
                System::memory("L", &names(sc.backend, Side::Left), sc.max_batch[0], sc.incremental[0], sc.skew[0]),
                System::memory("R", &names(sc.backend, Side::Right), sc.max_batch[1], sc.incremental[1], sc.skew[1]),
            ],
            Backend::TwentyMemory => [
                System::Twenty(super::twenty::TwentySide::spawn(sc).await),
                System::memory("R", &names(sc.backend, Side::Right), sc.max_batch[1], sc.incremental[1], sc.skew[1]),
            ],
        };
        let switches = [Arc::new(KillSwitch::default()), Arc::new(KillSwitch::default())];
        let conns: [Arc<dyn Connector>; 2] = [
            Arc::new(Killable { inner: sys[0].connector(), switch: switches[0].clone() }),
            Arc::new(Killable { inner: sys[1].connector(), switch: switches[1].clone() }),
        ];
        let dir = match tmp_root() {
            Some(root) => tempfile::tempdir_in(root),
            None => tempfile::tempdir(),
        }
        .expect("a temp folder for the state file");
        let db = dir.path().join("state.db");
        let store = Store::open(&db).expect("opening the state file");
        World { sc: sc.clone(), spec, sys, switches, conns, _dir: dir, db, store, model: Model::default(), window_start_run: 0, step: 0, stats: Stats::default() }
    }

    pub fn fail(&self, invariant: &'static str, message: String) -> Failure {
        Failure { seed: self.sc.seed, step: self.step, invariant, message }
    }

    /// The link-space value of `v` in field `f` of `side`.
    pub fn link_value(&self, side: Side, f: usize, v: &Value) -> Value {
        let mut r = Record::new("x");
        r.fields.insert(self.spec.field_name(side, f).to_string(), v.clone());
        to_link(&self.spec, side, f, &r).unwrap_or(Value::Null)
    }

    /// Link-space values of a record (each field separately; unreadable → Null).
    pub fn link_values(&self, side: Side, r: &Record) -> [Value; FIELDS] {
        std::array::from_fn(|f| to_link(&self.spec, side, f, r).unwrap_or(Value::Null))
    }

    /// Live records of a side by tag (a tag held twice is a duplicate).
    pub async fn by_tag(&self, side: Side) -> BTreeMap<String, Vec<(String, [Value; FIELDS])>> {
        let mut m: BTreeMap<String, Vec<(String, [Value; FIELDS])>> = BTreeMap::new();
        for r in self.sys[idx(side)].records().await {
            let v = self.link_values(side, &r);
            m.entry(v[TAG].display()).or_default().push((r.id.clone(), v));
        }
        m
    }

    fn fields_of(&self, side: Side, tag: u32, vals: &Vals) -> Fields {
        let names = names(self.sc.backend, side);
        let mut f = Fields::new();
        f.insert(names[TAG].into(), Value::text(format!("t{tag}")));
        for (i, raw) in vals.iter().enumerate() {
            if i != TAG && *raw != Raw::Null {
                f.insert(names[i].into(), raw.value());
            }
        }
        f
    }

    fn note_insert(&mut self, side: Side, tag: u32, vals: &Vals) {
        for (i, raw) in vals.iter().enumerate() {
            let v = self.link_value(side, i, &raw.value());
            if i != TAG && !v.is_null() {
                self.model.pending.insert((side, format!("t{tag}"), i), Pending { value: v, step: self.step });
            }
        }
    }

    /// Records a user edit in the model: it replaces this side's earlier edit of the field,
    /// and supersedes the other side's edit if this side already showed it.
    fn note_edit(&mut self, side: Side, tag: &str, f: usize, before: &Value, after: &Value) {
        if before == after {
            return; // no change in link space: nothing to carry across
        }
        let other = (side.other(), tag.to_string(), f);
        if self.model.pending.get(&other).is_some_and(|p| p.value == *before) {
            self.model.pending.remove(&other);
        }
        self.model.pending.insert((side, tag.to_string(), f), Pending { value: after.clone(), step: self.step });
    }

    async fn pick(&self, side: Side, pick: u32) -> Option<(String, String, [Value; FIELDS])> {
        let recs = self.by_tag(side).await;
        let all: Vec<(String, String, [Value; FIELDS])> = recs.into_iter().flat_map(|(t, v)| v.into_iter().map(move |(id, vals)| (t.clone(), id, vals))).collect();
        if all.is_empty() {
            return None;
        }
        Some(all[pick as usize % all.len()].clone())
    }

    async fn edit(&mut self, side: Side, tag: &str, id: &str, before: &[Value; FIELDS], f: usize, raw: Raw) {
        let name = names(self.sc.backend, side)[f];
        let after = self.link_value(side, f, &raw.value());
        self.sys[idx(side)].edit(id, name, raw.value());
        // Before a record is first paired a blank says nothing (the planner fills it from
        // the other side by design), so clearing it then is not an edit to carry across.
        let paired = self.store.pair_by(LINK, side, id).expect("reading pairs").is_some();
        if after.is_null() && !paired {
            self.model.pending.remove(&(side, tag.to_string(), f));
            return;
        }
        // Setting a value back to the pair's base is invisible to a three-way merge (A→B→A
        // looks unchanged): the other side's change rightly wins, so it is not carried.
        let base = self.store.pair_by(LINK, side, id).expect("reading pairs").and_then(|p| p.base.get(self.spec.key(f)).cloned());
        if base.as_ref() == Some(&after) {
            self.model.pending.remove(&(side, tag.to_string(), f));
            return;
        }
        self.note_edit(side, tag, f, &before[f], &after);
    }

    /// Applies one step. Returns an invariant failure, if any.
    pub async fn apply(&mut self, op: &Op) -> Result<(), Failure> {
        match op {
            Op::Insert { side, tag, vals } => {
                let f = self.fields_of(*side, *tag, vals);
                self.sys[idx(*side)].insert(f);
                self.note_insert(*side, *tag, vals);
            }
            Op::InsertBoth { tag, left, right } => {
                for (side, vals) in [(Side::Left, left), (Side::Right, right)] {
                    let f = self.fields_of(side, *tag, vals);
                    self.sys[idx(side)].insert(f);
                    self.note_insert(side, *tag, vals);
                }
            }
            Op::Edit { side, pick, field, raw } => {
                if let Some((tag, id, vals)) = self.pick(*side, *pick).await {
                    self.edit(*side, &tag, &id, &vals, *field, *raw).await;
                }
            }
            Op::EditBoth { pick, field, left, right } => {
                let (l, r) = (self.by_tag(Side::Left).await, self.by_tag(Side::Right).await);
                let both: Vec<&String> = l.keys().filter(|t| r.contains_key(*t)).collect();
                if !both.is_empty() {
                    let tag = both[*pick as usize % both.len()].clone();
                    let (lid, lv) = l[&tag][0].clone();
                    let (rid, rv) = r[&tag][0].clone();
                    self.edit(Side::Left, &tag, &lid, &lv, *field, *left).await;
                    self.edit(Side::Right, &tag, &rid, &rv, *field, *right).await;
                }
            }
            Op::Delete { side, pick } => {
                if let Some((tag, id, _)) = self.pick(*side, *pick).await {
                    self.sys[idx(*side)].remove(&id);
                    // The user's own edits on this side go with the record.
                    self.model.pending.retain(|(s, t, _), _| !(*s == *side && *t == tag));
                    self.model.deleted[idx(*side)].insert(tag);
                }
            }
            Op::Sync { mode, full, dry_run, allow_mass_delete, fault } => {
                let opts = RunOptions { mode: *mode, full: *full, dry_run: *dry_run, allow_mass_delete: *allow_mass_delete, trigger: "sim".into() };
                self.sync(&opts, fault.as_ref()).await?;
                if fault.as_ref().is_some_and(|f| f.lands_unreported() || matches!(f, FaultSpec::Kill { .. })) {
                    // The process restarts and syncs before users touch the records it just
                    // made: journal recovery is by value, so an edit in between defeats it on
                    // links without a natural key (a known limitation, see
                    // `known_limitation_edit_between_lost_reply_and_restart` in tests/sim).
                    let restart = RunOptions { mode: RunMode::Sync, trigger: "sim".into(), ..Default::default() };
                    self.sync(&restart, None).await?;
                }
            }
            Op::Resolve { pick, take_left } => self.resolve(*pick, *take_left).await,
            Op::Advance { side, secs } => self.sys[idx(*side)].advance(*secs),
            Op::SkewForward { side, secs } => {
                self.sc.skew[idx(*side)] += secs;
                self.sys[idx(*side)].skew(self.sc.skew[idx(*side)]);
            }
            Op::Quiesce => self.quiesce().await?,
        }
        Ok(())
    }

    async fn resolve(&mut self, pick: u32, take_left: bool) {
        let open = self.store.conflicts(Some(LINK), Some(ConflictStatus::Open)).expect("listing conflicts");
        if open.is_empty() {
            return;
        }
        let c = &open[pick as usize % open.len()];
        let value = if c.conflict.field.is_empty() {
            Value::Bool(take_left)
        } else if take_left {
            c.conflict.left.clone()
        } else {
            c.conflict.right.clone()
        };
        self.store.resolve_conflict(c.id, &value).expect("resolving a conflict");
        self.stats.resolutions += 1;
        if let Some(f) = (0..FIELDS).find(|&f| self.spec.key(f) == c.conflict.field) {
            // The tag of the pair, from whichever side still has it.
            for (side, id) in [(Side::Left, &c.conflict.left_id), (Side::Right, &c.conflict.right_id)] {
                let recs = self.sys[idx(side)].records().await;
                if let Some(r) = recs.iter().find(|r| &r.id == id) {
                    let tag = self.link_values(side, r)[TAG].display();
                    self.model.resolved.insert((tag, f), self.step);
                    break;
                }
            }
        }
    }

    /// One run of the engine with `fault` armed. A killed run's future is dropped and the
    /// state file reopened, as after a real crash.
    pub async fn sync(&mut self, opts: &RunOptions, fault: Option<&FaultSpec>) -> Result<Option<RunReport>, Failure> {
        let mut unreported = false;
        if let Some(f) = fault {
            self.stats.faults += 1;
            unreported = f.lands_unreported();
            match f {
                FaultSpec::Kill { side, call, nth, after } => self.switches[idx(*side)].arm(*call, *nth, *after),
                FaultSpec::Fail { side, .. } | FaultSpec::CrashAfter { side, .. } | FaultSpec::FailItem { side, .. } => self.sys[idx(*side)].arm(f),
            }
        }
        let before = [self.sys[0].mark(), self.sys[1].mark()];
        let outcome = {
            let link = LinkRun { spec: &self.spec, left: self.conns[0].clone(), right: self.conns[1].clone(), store: &self.store, left_name: "left".into(), right_name: "right".into() };
            let run = runner::run(&link, opts, &NoProgress);
            let (s0, s1) = (self.switches[0].clone(), self.switches[1].clone());
            tokio::select! {
                biased;
                r = run => Some(r),
                _ = s0.fired() => None,
                _ = s1.fired() => None,
            }
        };
        for s in &self.switches {
            s.disarm();
        }
        for s in &self.sys {
            s.clear_faults();
        }
        self.stats.runs += 1;
        let writes = self.sys[0].writes_since(&before[0]) + self.sys[1].writes_since(&before[1]);
        let Some(result) = outcome else {
            // The process died: start again from the same state file.
            self.stats.kills += 1;
            self.store = Store::open(&self.db).expect("reopening the state file after a crash");
            return Ok(None);
        };
        match result {
            Err(e) => {
                if writes > 0 {
                    return Err(self.fail("audit", format!("a run that failed ({e}) still wrote {writes} record(s)")));
                }
                Ok(None)
            }
            Ok(report) => {
                if opts.dry_run && writes > 0 {
                    return Err(self.fail("dry-run", format!("a dry run wrote {writes} record(s)")));
                }
                if !unreported {
                    self.check_audit(&report, writes)?;
                }
                Ok(Some(report))
            }
        }
    }

    /// (5) The audit log accounts for every write of a run whose outcome it could know.
    fn check_audit(&self, report: &RunReport, writes: u64) -> Result<(), Failure> {
        let changes = self.store.changes(report.run_id).expect("reading the run's changes");
        let mut updated = BTreeSet::new();
        let mut logged = 0u64;
        let mut deletes = 0u64;
        for c in &changes {
            match c.action.as_str() {
                "create" => logged += 1,
                "delete" => {
                    logged += 1;
                    deletes += 1;
                }
                "update" => {
                    updated.insert((c.side.clone(), c.record_id.clone()));
                }
                _ => {}
            }
        }
        logged += updated.len() as u64;
        // A delete that finds the record already gone counts as done (by design), so the
        // log may list deletes the system did not need; never fewer writes than happened.
        if logged < writes || logged - writes > deletes {
            return Err(self.fail("audit", format!("run {} wrote {writes} record(s) but its change log lists {logged}: {changes:#?}", report.run_id)));
        }
        let reported = report.summary.writes() as u64;
        if reported != logged {
            return Err(self.fail("audit", format!("run {} wrote {writes} record(s) but its summary counts {reported} and its log {logged}", report.run_id)));
        }
        Ok(())
    }

    /// Faults off; sync until a run writes nothing; check every invariant; then check that
    /// a quiet system stays quiet (incremental and full runs write nothing).
    pub async fn quiesce(&mut self) -> Result<(), Failure> {
        const SETTLE: usize = 4;
        self.stats.quiesces += 1;
        let opts = RunOptions { mode: RunMode::Sync, allow_mass_delete: true, trigger: "sim".into(), ..Default::default() };
        let mut settled = false;
        let mut last = String::new();
        for i in 0..SETTLE {
            // The first settling run reads everything: an incremental listing cannot show a
            // deletion, so a deployment must reconcile in full now and then (see the report).
            let Some(report) = self.sync(&RunOptions { full: i == 0, ..opts.clone() }, None).await? else {
                let runs = self.store.runs(Some(LINK), 1).expect("runs");
                return Err(self.fail("settle", format!("a run with no faults failed: {:?}", runs.first().map(|r| (&r.status, &r.message)))));
            };
            if report.status != RunStatus::Ok {
                return Err(self.fail("settle", format!("a run with no faults ended {:?}: {:?}", report.status, report.summary)));
            }
            last = report.summary.one_line("left", "right");
            if report.summary.writes() == 0 {
                settled = true;
                break;
            }
        }
        if !settled {
            return Err(self.fail("settle", format!("still writing after {SETTLE} runs with no edits (ping-pong?): {last}")));
        }
        super::check::invariants(self).await?;
        // (4) Quiet is quiet.
        for full in [false, true] {
            let before = [self.sys[0].mark(), self.sys[1].mark()];
            let r = self.sync(&RunOptions { full, ..opts.clone() }, None).await?;
            let wrote = self.sys[0].writes_since(&before[0]) + self.sys[1].writes_since(&before[1]);
            if wrote != 0 || r.as_ref().is_none_or(|r| r.summary.writes() != 0) {
                return Err(self.fail("quiet", format!("a sync with no new edits (full: {full}) wrote {wrote} record(s): {:?}", r.map(|r| r.summary))));
            }
        }
        // Deletions and answers stay known: an `ask` deletion conflict outlives the window.
        self.model.pending.clear();
        self.window_start_run = self.store.runs(Some(LINK), 1).expect("runs").first().map(|r| r.id).unwrap_or(0);
        Ok(())
    }

    /// Whether open `ask` conflicts exist (for stats).
    pub fn open_conflicts(&self) -> usize {
        self.store.conflicts(Some(LINK), Some(ConflictStatus::Open)).map(|c| c.len()).unwrap_or(0)
    }
}

/// Whether the link parks conflicts.
pub fn asks(sc: &Scenario) -> bool {
    sc.conflict == ConflictPolicy::Ask
}
