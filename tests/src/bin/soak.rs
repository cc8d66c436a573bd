//! `crosswalk-soak`: the randomized sync simulation over many seeds, for release builds.
//!
//! ```text
//! cargo run --release -p crosswalk-e2e --bin crosswalk-soak -- --seeds 100000 [--first 0] [--threads N] [--twenty-every 0] [--shrink-budget 300] [--max-failures 20]
//! ```
//! Prints progress, then the count, the failures (each with a shrunk reproduction and its
//! `CROSSWALK_SIM_SEED`) and the time. Exit code 1 when any seed failed.

use std::time::Instant;

use crosswalk_e2e::sim::{self, Plan};

fn arg(args: &[String], name: &str) -> Option<u64> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: crosswalk-soak --seeds N [--first S] [--threads T] [--twenty-every K] [--max-failures F]");
        return;
    }
    let plan = Plan {
        first: arg(&args, "--first").unwrap_or(0),
        count: arg(&args, "--seeds").unwrap_or(10_000),
        // Memory ↔ memory by default: the Twenty seeds are slow (HTTP, retry back-off).
        twenty_every: arg(&args, "--twenty-every").unwrap_or(0),
        threads: arg(&args, "--threads").map(|t| t as usize).unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        shrink_budget: arg(&args, "--shrink-budget").unwrap_or(300) as usize,
        max_failures: arg(&args, "--max-failures").unwrap_or(20) as usize,
    };
    println!("soaking {} seeds from {} on {} threads (Twenty every {})", plan.count, plan.first, plan.threads, plan.twenty_every);
    let start = Instant::now();
    let step = (plan.count / 20).max(1);
    let summary = sim::run_many(&plan, |n, s| {
        if n % step == 0 {
            println!("  {n}/{} seeds, {} failed, {:.0} s", plan.count, s.failures.len(), start.elapsed().as_secs_f64());
        }
    });
    println!("soak: {}", summary.line());
    for (f, _) in &summary.failures {
        println!("  FAILED {f}\n    rerun with CROSSWALK_SIM_SEED={}", f.seed);
    }
    if !summary.failures.is_empty() {
        std::process::exit(1);
    }
}
