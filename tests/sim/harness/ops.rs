//! What a simulated scenario is made of: the link it runs and the steps it takes.
//!
//! Steps name records by *pick* (an index taken modulo the records alive at that moment,
//! in tag order), never by id, so a step list stays meaningful when the shrinker removes
//! steps before it.

use crosswalk_connectors::memory::Call;
use crosswalk_core::config::{ConflictPolicy, DeletePolicy};
use crosswalk_core::runner::RunMode;
use crosswalk_core::value::{Float, Value};
use crosswalk_core::Side;

/// Which systems the link joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// In-memory connector on both sides (fast: most seeds).
    MemoryMemory,
    /// The Twenty simulator over real HTTP on the left, in-memory on the right.
    TwentyMemory,
}

/// The mapped fields, by index. 0 is the logical tag (never edited, unique per record).
pub const FIELDS: usize = 5;
pub const TAG: usize = 0;
/// Left (memory) names; the memory right side uses the upper-case names.
pub const LEFT_NAMES: [&str; FIELDS] = ["tag", "name", "email", "city", "qty"];
pub const RIGHT_NAMES: [&str; FIELDS] = ["TAG", "NAME", "EMAIL", "CITY", "QTY"];
/// Field 4 is an integer; every other field is text.
pub const QTY: usize = 4;

/// A value as a user types it. Several raw forms of one business value on purpose
/// (`" Oslo "`, `"7.00"`, `7.0`): they must never look like a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raw {
    Null,
    /// Blank text (canonically null).
    Blank,
    /// A word from a small pool (collisions between sides are intended).
    Word(u8),
    /// The same word with spaces around it.
    Padded(u8),
    /// A word in upper case (equal to `Word` under a `lower` transform).
    Shout(u8),
    Int(i64),
    IntText(i64),
    IntFloat(i64),
}

const WORDS: [&str; 6] = ["Oslo", "Delft", "Paris", "Lima", "Kyiv", "Accra"];

impl Raw {
    pub fn value(self) -> Value {
        match self {
            Raw::Null => Value::Null,
            Raw::Blank => Value::text("  "),
            Raw::Word(i) => Value::text(WORDS[i as usize % WORDS.len()]),
            Raw::Padded(i) => Value::text(format!(" {} ", WORDS[i as usize % WORDS.len()])),
            Raw::Shout(i) => Value::text(WORDS[i as usize % WORDS.len()].to_uppercase()),
            Raw::Int(n) => Value::Int(n),
            Raw::IntText(n) => Value::text(format!("{n}.00")),
            Raw::IntFloat(n) => Value::Float(Float(n as f64)),
        }
    }
}

/// Values of the non-tag fields of a new record (`None`: left out).
pub type Vals = [Raw; FIELDS];

/// What goes wrong during one sync run.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultSpec {
    /// The `nth` call of `call` on `side` fails before doing anything.
    Fail { side: Side, call: Call, nth: usize, error: ErrKind },
    /// The `nth` call does its work, then reports an error (reply lost).
    CrashAfter { side: Side, call: Call, nth: usize },
    /// Only item `item` of the `nth` batch fails.
    FailItem { side: Side, call: Call, nth: usize, item: usize, error: ErrKind },
    /// The process is killed at the `nth` call, before sending it or after it landed;
    /// the run's future is dropped and the same SQLite file reopened.
    Kill { side: Side, call: Call, nth: usize, after: bool },
}

impl FaultSpec {
    /// Whether a write may land without the runner hearing of it (the audit check then
    /// cannot expect the log to account for it).
    pub fn lands_unreported(&self) -> bool {
        matches!(self, FaultSpec::CrashAfter { .. } | FaultSpec::Kill { after: true, .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrKind {
    RateLimited,
    Unavailable,
    Invalid,
}

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A user creates a record with a fresh tag on one side.
    Insert { side: Side, tag: u32, vals: Vals },
    /// Users create the same logical record (same tag) on both sides (natural key only).
    InsertBoth { tag: u32, left: Vals, right: Vals },
    /// A user edits one field of a record.
    Edit { side: Side, pick: u32, field: usize, raw: Raw },
    /// The same field of one logical record edited on both sides before a sync.
    EditBoth { pick: u32, field: usize, left: Raw, right: Raw },
    /// A user deletes a record.
    Delete { side: Side, pick: u32 },
    /// A sync run (a click, a schedule, a duplicated webhook), maybe with a fault armed.
    Sync { mode: RunMode, full: bool, dry_run: bool, allow_mass_delete: bool, fault: Option<FaultSpec> },
    /// A person answers an open `ask` conflict with the left (or right) value.
    Resolve { pick: u32, take_left: bool },
    /// Time passes on one system.
    Advance { side: Side, secs: i64 },
    /// One system's clock jumps forward (it was already skewed from the start).
    SkewForward { side: Side, secs: i64 },
    /// Faults off, sync until settled, then check every invariant.
    Quiesce,
}

/// A whole scenario, fully determined by its seed (then possibly shrunk).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub backend: Backend,
    pub conflict: ConflictPolicy,
    pub tie_break: Side,
    pub deletes: DeletePolicy,
    pub natural_key: bool,
    /// `email` compared in lower case (a `lower` transform).
    pub lower_email: bool,
    pub max_batch: [usize; 2],
    pub incremental: [bool; 2],
    pub skew: [i64; 2],
    pub ops: Vec<Op>,
}

impl Scenario {
    /// A readable reproduction: the link, then one step per line.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "backend {:?}, conflict {:?} (tie → {}), deletes {:?}, natural key {}, lower email {}, max batch {:?}, incremental {:?}, clock skew {:?}\n",
            self.backend, self.conflict, self.tie_break, self.deletes, self.natural_key, self.lower_email, self.max_batch, self.incremental, self.skew
        );
        for (i, op) in self.ops.iter().enumerate() {
            s.push_str(&format!("  {i:3}: {op:?}\n"));
        }
        s
    }
}
