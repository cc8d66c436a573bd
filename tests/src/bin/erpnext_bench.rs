//! `crosswalk-erpnext-bench`: documents per second of a full manual erpnext-erpnext sync
//! between two Frappe simulator sites, beside what the old script claims.
//!
//! ```text
//! cargo run --release -p crosswalk-e2e --bin crosswalk-erpnext-bench -- [--customers 1000] [--as-configured] [--latency-ms 0]
//! ```
//! Makes `customers` customers, `customers × 2/5` items and `customers / 5` sales orders with
//! 1–3 item rows (the e2e's proportions), half on each site, then times one sync of every
//! link (masters first) through the engine's app API, as `crosswalk sync` runs it. The
//! client-side rate limit is lifted (the simulators have none) unless `--as-configured`
//! keeps the preset's 3000 requests/min per site. `--latency-ms` makes each simulator request
//! take that long, as a real site's server time does.

use std::time::{Duration, Instant};

use crosswalk_core::runner::{NoProgress, RunOptions};
use crosswalk_engine::presets::{self, Values};
use crosswalk_engine::App;
use crosswalk_simulators::frappe::{FrappeSim, FrappeSimHandle, FrappeSimOptions};
use serde_json::json;

fn arg(args: &[String], name: &str) -> Option<usize> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

/// Makes one site's share of the documents as its users would; returns how many.
fn populate(site: &FrappeSimHandle, tag: &str, customers: usize, items: usize, orders: usize) -> usize {
    let mut names = vec![];
    for i in 0..customers {
        let c = site.insert_as_user("Customer", json!({"customer_name": format!("{tag} Customer {i}"), "customer_type": "Company", "territory": "Europe", "email_id": format!("c{i}@{tag}.example.com"), "credit_limit": i % 7 * 1000})).expect("customer");
        names.push(c["name"].as_str().unwrap_or_default().to_string());
    }
    let codes: Vec<String> = (0..items).map(|i| format!("ITEM-{tag}-{i:05}")).collect();
    for (i, code) in codes.iter().enumerate() {
        site.insert_as_user("Item", json!({"item_code": code, "item_name": format!("Item {i}"), "item_group": "Products", "stock_uom": "Nos", "standard_rate": 10 + i % 90})).expect("item");
    }
    for i in 0..orders {
        let rows: Vec<serde_json::Value> = (0..1 + i % 3).map(|r| json!({"item_code": codes[(i * 7 + r * 13) % codes.len()], "qty": 1 + r, "rate": 10.5, "delivery_date": "2026-03-31"})).collect();
        site.insert_as_user("Sales Order", json!({"customer": names[i * 5 % names.len()], "transaction_date": "2026-03-01", "delivery_date": "2026-03-31", "po_no": format!("PO-{tag}-{i}"), "items": rows})).expect("order");
    }
    customers + items + orders
}

async fn bench(customers: usize, as_configured: bool, latency: Duration) -> Result<(), String> {
    let (items, orders) = ((customers * 2 / 5).max(1), (customers / 5).max(1));
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::env::set_var("CROSSWALK_HOME", home.path().join("home"));
    std::env::set_var("CROSSWALK_NO_KEYRING", "1");
    let cloud = FrappeSim::spawn(FrappeSimOptions { series_start: 1, ..FrappeSimOptions::default() }).await;
    let local = FrappeSim::spawn(FrappeSimOptions { series_start: 500_001, utc_offset_minutes: 60, time_zone: Some("Europe/Amsterdam".into()), ..FrappeSimOptions::default() }).await;
    std::env::set_var("CROSSWALK_SECRET_CLOUD", cloud.secret());
    std::env::set_var("CROSSWALK_SECRET_LOCAL", local.secret());
    let config = home.path().join("crosswalk.toml");
    let mut v = Values::default();
    for (k, val) in [("CLOUD_ERP_URL", &cloud.base_url), ("LOCAL_ERP_URL", &local.base_url), ("CLOUD_API_KEY", &cloud.api_key), ("LOCAL_API_KEY", &local.api_key)] {
        v.flags.insert(k.into(), val.clone());
    }
    v.flags.insert("CONFLICT_RESOLUTION".into(), "newest_wins".into());
    let mut text = presets::init("erpnext-erpnext", &config, &v).map_err(|e| e.message)?.config_text;
    if !as_configured {
        text = text.replace("requests_per_minute = 3000\n", "requests_per_minute = 100000\n");
    }
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let made = populate(&cloud, "C", customers / 2, items / 2, orders / 2) + populate(&local, "L", customers - customers / 2, items - items / 2, orders - orders / 2);
    let app = App::open(Some(&config)).map_err(|e| e.message)?;
    cloud.set_latency(latency);
    local.set_latency(latency);

    let run_all = |label: &'static str| {
        let app = &app;
        async move {
            let start = Instant::now();
            let mut writes = 0;
            for link in app.link_names() {
                let r = app.run_link(&link, &RunOptions::default(), &NoProgress).await.map_err(|e| format!("{link}: {}", e.message))?;
                if r.summary.failed != [0, 0] {
                    return Err(format!("{label}: {link} failed: {:?}", r.summary.errors));
                }
                writes += r.summary.writes();
            }
            Ok::<(Duration, usize), String>((start.elapsed(), writes))
        }
    };
    let (took, copied) = run_all("full sync").await?;
    if copied != made || cloud.count("Customer") != customers || local.count("Sales Order") != orders {
        return Err(format!("the sync copied {copied} documents, expected {made}, and both sites should hold every document"));
    }
    let (quiet, writes) = run_all("second sync").await?;
    if writes != 0 {
        return Err(format!("a second sync wrote {writes} times"));
    }

    let rate = copied as f64 / took.as_secs_f64();
    println!("erpnext-erpnext, full manual sync between two Frappe simulator sites on 127.0.0.1");
    println!("  {made} documents ({customers} customers, {items} items, {orders} sales orders with 1–3 rows), half made on each site");
    println!("  client-side limit: {}", if as_configured { "the preset's 3000 requests/min per site" } else { "lifted (the simulators have none)" });
    println!("  server time per request: {} ms", latency.as_millis());
    println!("  full sync: {copied} documents copied in {:.2} s", took.as_secs_f64());
    println!("  crosswalk:      {rate:.0} documents/s");
    println!("  today's script: 10–50 documents/s");
    println!("  second sync, nothing changed: {:.2} s, 0 writes", quiet.as_secs_f64());
    Ok(())
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: crosswalk-erpnext-bench [--customers N] [--as-configured] [--latency-ms MS]");
        return Ok(());
    }
    let customers = arg(&args, "--customers").unwrap_or(1000).max(2);
    let latency = Duration::from_millis(arg(&args, "--latency-ms").unwrap_or(0) as u64);
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?.block_on(bench(customers, args.iter().any(|a| a == "--as-configured"), latency))
}
