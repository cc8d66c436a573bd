//! A deterministic, seeded randomized simulation of the whole sync engine, in the spirit of
//! Dropbox's CanopyCheck/Trinity.
//!
//! From a `u64` seed it generates a link (memory ↔ memory, or the Twenty simulator over
//! real HTTP ↔ memory), a conflict and deletion policy, initial data on both sides, and a
//! list of steps: users editing, creating and deleting records on either side (the same
//! field on both sides too), sync runs (including pull/push, full, dry and repeated runs),
//! faults on any connector call (429/5xx/time-outs, partial batch failures, replies lost
//! after the write landed), process kills at any call (the run's future is dropped and
//! the same SQLite file reopened), clocks that disagree and jump, and people answering
//! `ask` conflicts.
//!
//! After every quiescent point (faults off, synced until a run writes nothing) it checks:
//! 1. convergence — both sides agree on every mapped field of every record (open `ask`
//!    conflicts excepted) and every record on both sides is paired;
//! 2. no lost update — every user edit since the last check is on both sides, or is the
//!    recorded loser of a conflict, or is parked as an open conflict, or a person decided
//!    otherwise after it was made, or its record was deleted;
//! 3. no duplicates — every logical record (its unique `tag`) is on each side at most once;
//! 4. quiet is quiet — incremental and full runs then write nothing;
//! 5. the audit log accounts for every write: for each run whose outcome it could know
//!    (not killed, no reply lost after a write), the connectors' ground-truth write count
//!    equals the `changes` rows and the run summary.
//!
//! Decisions never depend on the wall clock: kills are signalled by the connector wrapper,
//! not by time-outs. A failure is shrunk (steps removed while it still fails) and printed
//! with `rerun with CROSSWALK_SIM_SEED=<seed>`.

pub mod check;
pub mod crash;
pub mod gen;
pub mod ops;
pub mod system;
pub mod twenty;
pub mod world;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ops::{Op, Scenario};
use world::World;

/// An invariant that did not hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub seed: u64,
    /// Index of the step at which it was found.
    pub step: usize,
    /// `convergence`, `lost update`, `duplicate`, `quiet`, `audit`, `settle`, `dry-run`, `panic`.
    pub invariant: &'static str,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seed {} step {}: [{}] {}", self.seed, self.step, self.invariant, self.message)
    }
}

/// What one seed did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub steps: usize,
    pub runs: usize,
    pub kills: usize,
    pub faults: usize,
    pub quiesces: usize,
    pub resolutions: usize,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.steps += o.steps;
        self.runs += o.runs;
        self.kills += o.kills;
        self.faults += o.faults;
        self.quiesces += o.quiesces;
        self.resolutions += o.resolutions;
    }
}

/// Runs a scenario to its end (a final quiescent check is always made).
pub async fn execute(sc: &Scenario) -> Result<Stats, Failure> {
    let mut w = World::new(sc).await;
    for (i, op) in sc.ops.iter().enumerate() {
        w.step = i;
        w.apply(op).await?;
    }
    if sc.ops.last() != Some(&Op::Quiesce) {
        w.step = sc.ops.len();
        w.quiesce().await?;
    }
    w.stats.steps = sc.ops.len();
    Ok(w.stats.clone())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// Executes a scenario on a fresh runtime; a panic is a failure too.
pub fn execute_blocking(sc: &Scenario) -> Result<Stats, Failure> {
    let rt = runtime();
    match std::panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(execute(sc)))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            Err(Failure { seed: sc.seed, step: 0, invariant: "panic", message: msg })
        }
    }
}

/// Removes steps (halving chunks, then single steps) and faults while the scenario still
/// fails the same invariant. `budget` bounds the re-executions.
pub fn shrink(sc: &Scenario, failure: &Failure, mut budget: usize) -> (Scenario, Failure) {
    let mut best = sc.clone();
    let mut best_failure = failure.clone();
    let try_ops = |ops: Vec<Op>, best: &mut Scenario, best_failure: &mut Failure, budget: &mut usize| -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let cand = Scenario { ops, ..best.clone() };
        match execute_blocking(&cand) {
            Err(f) if f.invariant == failure.invariant => {
                *best = cand;
                *best_failure = f;
                true
            }
            _ => false,
        }
    };
    let mut chunk = (best.ops.len() / 2).max(1);
    loop {
        let mut i = 0;
        let mut removed = false;
        while i < best.ops.len() && budget > 0 {
            let end = (i + chunk).min(best.ops.len());
            let mut ops = best.ops.clone();
            ops.drain(i..end);
            if try_ops(ops, &mut best, &mut best_failure, &mut budget) {
                removed = true;
            } else {
                i += chunk;
            }
        }
        if budget == 0 || (!removed && chunk == 1) {
            break;
        }
        if !removed {
            chunk = (chunk / 2).max(1);
        }
    }
    // Then drop faults that don't matter.
    for i in 0..best.ops.len() {
        if let Op::Sync { fault: Some(_), mode, full, dry_run, allow_mass_delete } = best.ops[i].clone() {
            let mut ops = best.ops.clone();
            ops[i] = Op::Sync { mode, full, dry_run, allow_mass_delete, fault: None };
            try_ops(ops, &mut best, &mut best_failure, &mut budget);
        }
    }
    (best, best_failure)
}

/// The report of a failing seed: the failure, a shrunk reproduction, and how to rerun it.
pub fn report_failure(sc: &Scenario, failure: &Failure, shrink_budget: usize) -> String {
    let (small, small_failure) = shrink(sc, failure, shrink_budget);
    format!(
        "SIMULATION FAILURE {failure}\n\nshrunk reproduction ({} of {} steps), failing with: {small_failure}\n{}\nrerun with CROSSWALK_SIM_SEED={}\n",
        small.ops.len(),
        sc.ops.len(),
        small.describe(),
        sc.seed
    )
}

/// Which seeds to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub first: u64,
    pub count: u64,
    /// One seed in this many uses the Twenty simulator (0 = none).
    pub twenty_every: u64,
    pub threads: usize,
    /// Re-executions allowed to shrink each failure.
    pub shrink_budget: usize,
    /// Stop after this many failing seeds.
    pub max_failures: usize,
}

/// The outcome of many seeds.
#[derive(Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    pub twenty_seeds: u64,
    pub failures: Vec<(Failure, String)>,
    pub stats: Stats,
    pub elapsed: Duration,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "{} seeds ({} with the Twenty simulator), {} failed, in {:.1} s: {} steps, {} runs, {} faults, {} kills, {} quiescent checks, {} conflict answers",
            self.seeds,
            self.twenty_seeds,
            self.failures.len(),
            self.elapsed.as_secs_f64(),
            self.stats.steps,
            self.stats.runs,
            self.stats.faults,
            self.stats.kills,
            self.stats.quiesces,
            self.stats.resolutions
        )
    }
}

/// Runs `plan.count` seeds from `plan.first` on `plan.threads` threads.
pub fn run_many(plan: &Plan, progress: impl Fn(u64, &Summary) + Sync) -> Summary {
    let start = Instant::now();
    let next = AtomicU64::new(0);
    let summary = Mutex::new(Summary::default());
    std::thread::scope(|s| {
        for _ in 0..plan.threads.max(1) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= plan.count || summary.lock().unwrap().failures.len() >= plan.max_failures {
                    break;
                }
                let seed = plan.first + k;
                let sc = gen::scenario(seed, plan.twenty_every);
                let result = execute_blocking(&sc);
                let report = match &result {
                    Err(f) => Some((f.clone(), report_failure(&sc, f, plan.shrink_budget))),
                    Ok(_) => None,
                };
                let mut sum = summary.lock().unwrap();
                sum.seeds += 1;
                if sc.backend == ops::Backend::TwentyMemory {
                    sum.twenty_seeds += 1;
                }
                match result {
                    Ok(st) => sum.stats.add(&st),
                    Err(_) => {
                        let (f, text) = report.expect("a report for a failure");
                        eprintln!("{text}");
                        sum.failures.push((f, text));
                    }
                }
                sum.elapsed = start.elapsed();
                progress(sum.seeds, &sum);
            });
        }
    });
    let mut sum = summary.into_inner().unwrap();
    sum.elapsed = start.elapsed();
    sum
}

/// Reads `CROSSWALK_SIM_SEED` (one seed) and `CROSSWALK_SIM_SEEDS` (a count).
pub fn env_seeds() -> (Option<u64>, Option<u64>) {
    let get = |k: &str| std::env::var(k).ok().and_then(|v| v.trim().parse::<u64>().ok());
    (get("CROSSWALK_SIM_SEED"), get("CROSSWALK_SIM_SEEDS"))
}
