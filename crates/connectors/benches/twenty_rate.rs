//! Rate-limit benchmark: push 6,000 new people to a Twenty simulator whose limit is scaled
//! to 100 requests per second (instead of per minute), with the connector's limiter at the
//! same rate. Prints the utilisation of the bound "limit × 60 records per batch call" and
//! fails if any 429 was received or utilisation is under 90%.
//!
//! Run: `cargo bench -p crosswalk-connectors --bench twenty_rate`

use std::sync::Arc;
use std::time::{Duration, Instant};

use crosswalk_connectors::twenty::{TwentyConfig, TwentyConnector};
use crosswalk_core::{Connector, Fields, Secret, Value};
use crosswalk_simulators::{TwentySim, TwentySimOptions};

const PEOPLE: usize = 6_000;
const LIMIT: u32 = 100;
const PERIOD: Duration = Duration::from_secs(1);
const TASKS: usize = 4;

#[tokio::main]
async fn main() {
    let sim = TwentySim::spawn(TwentySimOptions::default().rate_limit(LIMIT, PERIOD)).await;
    let mut cfg = TwentyConfig::new(&sim.base_url);
    cfg.requests_per_minute = LIMIT;
    cfg.rate_period = PERIOD;
    let c = Arc::new(TwentyConnector::new("bench", cfg, Secret::new(sim.api_key.clone())).expect("client builds"));
    // Spend the client's initial burst so the timed part measures the steady rate.
    for _ in 0..5 {
        c.health().await.expect("health");
    }
    sim.reset_counters();

    let batches: Vec<Vec<Fields>> = (0..PEOPLE)
        .map(|i| {
            let mut f = Fields::new();
            f.insert("name.firstName".into(), Value::text(format!("Bench{i}")));
            f.insert("name.lastName".into(), Value::text("Person"));
            f.insert("emails.primaryEmail".into(), Value::text(format!("bench{i}@example.org")));
            f
        })
        .collect::<Vec<_>>()
        .chunks(60)
        .map(|c| c.to_vec())
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..TASKS {
        let (c, queue) = (c.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            loop {
                let Some(batch) = queue.lock().unwrap().pop() else { return ok };
                let res = c.create("people", batch).await.expect("batch create");
                ok += res.iter().filter(|r| r.is_ok()).count();
            }
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += t.await.expect("task");
    }
    let took = start.elapsed().as_secs_f64();
    let counters = sim.counters();
    let bound = f64::from(LIMIT) / PERIOD.as_secs_f64() * 60.0;
    let rate = created as f64 / took;
    let utilisation = rate / bound * 100.0;
    println!("twenty_rate: created {created} people in {took:.2} s with {} batch calls", counters.kind("POST batch"));
    println!("twenty_rate: {rate:.0} records/s against a bound of {bound:.0} records/s (limit {LIMIT} req/{PERIOD:?} × 60): utilisation {utilisation:.1}%");
    println!("twenty_rate: 429 answers received: {}", counters.throttled);
    assert_eq!(created, PEOPLE, "every person is created");
    assert_eq!(counters.throttled, 0, "the client must never receive a 429");
    assert_eq!(sim.count("people"), PEOPLE, "the simulator holds every person");
    assert!(utilisation >= 90.0, "throughput must reach 90% of the limit × 60-record bound, got {utilisation:.1}%");
}
