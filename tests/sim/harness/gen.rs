//! Scenario generation: a seed → a link, initial data and a list of steps.
//!
//! Uses ChaCha8 (portable and stable across platforms and `rand` releases) so a seed
//! printed by CI reproduces anywhere.

use crosswalk_connectors::memory::Call;
use crosswalk_core::config::{ConflictPolicy, DeletePolicy};
use crosswalk_core::runner::RunMode;
use crosswalk_core::Side;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ops::{Backend, ErrKind, FaultSpec, Op, Raw, Scenario, Vals, FIELDS, QTY, TAG};

fn side(rng: &mut ChaCha8Rng) -> Side {
    if rng.gen_bool(0.5) {
        Side::Left
    } else {
        Side::Right
    }
}

fn raw(rng: &mut ChaCha8Rng, field: usize) -> Raw {
    if field == QTY {
        let n = rng.gen_range(0..5);
        return match rng.gen_range(0..10) {
            0 => Raw::Null,
            1..=5 => Raw::Int(n),
            6..=7 => Raw::IntText(n),
            _ => Raw::IntFloat(n),
        };
    }
    let w = rng.gen_range(0..6u8);
    match rng.gen_range(0..12) {
        0 => Raw::Null,
        1 => Raw::Blank,
        2 => Raw::Padded(w),
        3 => Raw::Shout(w),
        _ => Raw::Word(w),
    }
}

fn vals(rng: &mut ChaCha8Rng) -> Vals {
    let mut v = [Raw::Null; FIELDS];
    for (f, slot) in v.iter_mut().enumerate() {
        if f != TAG && rng.gen_bool(0.7) {
            *slot = raw(rng, f);
        }
    }
    v
}

fn call(rng: &mut ChaCha8Rng) -> Call {
    match rng.gen_range(0..10) {
        0 => Call::List,
        1 => Call::Get,
        2 => Call::Find,
        3..=5 => Call::Create,
        6..=8 => Call::Update,
        _ => Call::Delete,
    }
}

fn err(rng: &mut ChaCha8Rng) -> ErrKind {
    match rng.gen_range(0..3) {
        0 => ErrKind::RateLimited,
        1 => ErrKind::Unavailable,
        _ => ErrKind::Invalid,
    }
}

fn fault(rng: &mut ChaCha8Rng) -> FaultSpec {
    let (side, call, nth) = (side(rng), call(rng), rng.gen_range(0..3));
    match rng.gen_range(0..10) {
        0..=1 => FaultSpec::Fail { side, call, nth, error: err(rng) },
        2..=3 => FaultSpec::CrashAfter { side, call, nth },
        4..=5 => FaultSpec::FailItem { side, call, nth, item: rng.gen_range(0..3), error: err(rng) },
        _ => FaultSpec::Kill { side, call, nth, after: rng.gen_bool(0.6) },
    }
}

/// How many steps a scenario of this backend takes.
fn step_count(rng: &mut ChaCha8Rng, backend: Backend) -> usize {
    match backend {
        Backend::MemoryMemory => rng.gen_range(15..50),
        Backend::TwentyMemory => rng.gen_range(10..25),
    }
}

/// The scenario of `seed`. `twenty_every`: one seed in this many uses the Twenty
/// simulator (0 = never).
pub fn scenario(seed: u64, twenty_every: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let backend = if twenty_every > 0 && seed % twenty_every == twenty_every - 1 { Backend::TwentyMemory } else { Backend::MemoryMemory };
    let conflict = [ConflictPolicy::NewestWins, ConflictPolicy::LeftWins, ConflictPolicy::RightWins, ConflictPolicy::Ask][rng.gen_range(0..4)];
    let deletes = [DeletePolicy::Ignore, DeletePolicy::Propagate, DeletePolicy::Ask][rng.gen_range(0..3)];
    let natural_key = rng.gen_bool(0.5);
    let mut sc = Scenario {
        seed,
        backend,
        conflict,
        tie_break: side(&mut rng),
        deletes,
        natural_key,
        lower_email: rng.gen_bool(0.3),
        max_batch: [rng.gen_range(1..5), rng.gen_range(1..5)],
        incremental: [rng.gen_bool(0.7), rng.gen_bool(0.7)],
        skew: [if rng.gen_bool(0.5) { rng.gen_range(-7200..7200) } else { 0 }, if rng.gen_bool(0.5) { rng.gen_range(-7200..7200) } else { 0 }],
        ops: vec![],
    };
    let mut tag = 0u32;
    let mut next_tag = || {
        tag += 1;
        tag
    };
    // Initial data on both sides (and, with a natural key, some records on both).
    for _ in 0..rng.gen_range(0..6) {
        sc.ops.push(Op::Insert { side: Side::Left, tag: next_tag(), vals: vals(&mut rng) });
    }
    for _ in 0..rng.gen_range(0..6) {
        sc.ops.push(Op::Insert { side: Side::Right, tag: next_tag(), vals: vals(&mut rng) });
    }
    if natural_key {
        for _ in 0..rng.gen_range(0..3) {
            sc.ops.push(Op::InsertBoth { tag: next_tag(), left: vals(&mut rng), right: vals(&mut rng) });
        }
    }
    let n = step_count(&mut rng, backend);
    for _ in 0..n {
        let op = match rng.gen_range(0..100) {
            0..=29 => Op::Edit { side: side(&mut rng), pick: rng.gen(), field: rng.gen_range(1..FIELDS), raw: Raw::Null },
            30..=37 => Op::EditBoth { pick: rng.gen(), field: rng.gen_range(1..FIELDS), left: Raw::Null, right: Raw::Null },
            38..=45 => Op::Insert { side: side(&mut rng), tag: next_tag(), vals: vals(&mut rng) },
            46..=47 if natural_key => Op::InsertBoth { tag: next_tag(), left: vals(&mut rng), right: vals(&mut rng) },
            46..=52 => Op::Delete { side: side(&mut rng), pick: rng.gen() },
            53..=79 => {
                let mode = match rng.gen_range(0..12) {
                    0 => RunMode::Pull,
                    1 => RunMode::Push,
                    _ => RunMode::Sync,
                };
                Op::Sync {
                    mode,
                    full: rng.gen_bool(0.2),
                    dry_run: rng.gen_bool(0.05),
                    allow_mass_delete: rng.gen_bool(0.5),
                    fault: rng.gen_bool(0.55).then(|| fault(&mut rng)),
                }
            }
            80..=84 => Op::Resolve { pick: rng.gen(), take_left: rng.gen_bool(0.5) },
            85..=88 => Op::Advance { side: side(&mut rng), secs: rng.gen_range(1..600) },
            89..=90 => Op::SkewForward { side: side(&mut rng), secs: rng.gen_range(1..3600) },
            _ => Op::Quiesce,
        };
        // Values are drawn after the kind so each kind's field decides the value's form.
        let op = match op {
            Op::Edit { side, pick, field, .. } => Op::Edit { side, pick, field, raw: raw(&mut rng, field) },
            Op::EditBoth { pick, field, .. } => Op::EditBoth { pick, field, left: raw(&mut rng, field), right: raw(&mut rng, field) },
            other => other,
        };
        sc.ops.push(op);
    }
    sc.ops.push(Op::Quiesce);
    sc
}
