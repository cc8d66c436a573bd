//! At scale, through webhooks and the CLI: two sites with 500 customers, 200 items and 100
//! sales orders (1–3 item rows each) made half on each site. One sync later both sites hold
//! every document and every link field — also inside child rows — points at a document of
//! its own site. With the listener running (`crosswalk watch`'s webhook part) and the
//! sites' Webhook documents made by `crosswalk webhook-setup`, an edit on either site
//! reaches the other within 2 s, and the echo of our own write makes no further write.
//! `ask` conflicts are listed and settled from the CLI, and `sync --record` copies one
//! document one way and nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crosswalk_core::runner::{NoProgress, RunOptions};
use crosswalk_engine::App;
use crosswalk_simulators::frappe::FrappeSimHandle;
use serde_json::{json, Value as Json};

use crate::support::{self, cli, cli_ok, writes};

const CUSTOMERS: usize = 250; // per site
const ITEMS: usize = 100;
const ORDERS: usize = 50;

/// Customers, items and orders made on one site as its users would (`tag` = C or L).
fn populate(site: &FrappeSimHandle, tag: &str) {
    let mut customers = vec![];
    for i in 0..CUSTOMERS {
        let c = site.insert_as_user("Customer", json!({"customer_name": format!("{tag} Customer {i:03}"), "customer_type": if i % 3 == 0 { "Individual" } else { "Company" }, "territory": "Europe", "email_id": format!("c{i}@{tag}.example.com"), "credit_limit": (i % 7) * 1000})).unwrap();
        customers.push(c["name"].as_str().unwrap().to_string());
    }
    let codes: Vec<String> = (0..ITEMS).map(|i| format!("ITEM-{tag}-{i:03}")).collect();
    for (i, code) in codes.iter().enumerate() {
        site.insert_as_user("Item", json!({"item_code": code, "item_name": format!("Item {tag} {i}"), "item_group": "Products", "stock_uom": "Nos", "standard_rate": 10 + i})).unwrap();
    }
    for i in 0..ORDERS {
        let rows: Vec<Json> = (0..1 + i % 3).map(|r| json!({"item_code": codes[(i * 7 + r * 13) % ITEMS], "qty": 1 + r, "rate": 10.5 + r as f64, "delivery_date": "2026-03-31"})).collect();
        site.insert_as_user("Sales Order", json!({"customer": customers[(i * 5) % CUSTOMERS], "transaction_date": "2026-03-01", "delivery_date": "2026-03-31", "po_no": format!("PO-{tag}-{i:03}"), "items": rows})).unwrap();
    }
}

fn by(docs: &[Json], key: &str) -> BTreeMap<String, Json> {
    docs.iter().map(|d| (d[key].as_str().unwrap_or_default().to_string(), d.clone())).collect()
}

fn name_by(site: &FrappeSimHandle, doctype: &str, field: &str, value: &str) -> String {
    site.docs(doctype).into_iter().find(|d| d[field] == value).unwrap_or_else(|| panic!("no {doctype} with {field} = {value:?}"))["name"].as_str().unwrap().to_string()
}

/// Every Sales Order's customer and rows' item codes are documents of its own site, and
/// the same order on the other site names the same customer (by customer name) and items.
fn assert_links_are_local(cloud: &FrappeSimHandle, local: &FrappeSimHandle) {
    let sites = [("cloud", cloud), ("local", local)];
    let customers: Vec<BTreeMap<String, Json>> = sites.iter().map(|(_, s)| by(&s.docs("Customer"), "name")).collect();
    let items: Vec<BTreeMap<String, Json>> = sites.iter().map(|(_, s)| by(&s.docs("Item"), "name")).collect();
    let orders: Vec<BTreeMap<String, Json>> = sites.iter().map(|(_, s)| by(&s.docs("Sales Order"), "po_no")).collect();
    assert_eq!(orders[0].keys().collect::<Vec<_>>(), orders[1].keys().collect::<Vec<_>>(), "both sites hold the same sales orders");
    for (po, so) in &orders[0] {
        let other = &orders[1][po];
        for (i, (site, doc)) in [(sites[0].0, so), (sites[1].0, other)].into_iter().enumerate() {
            let c = doc["customer"].as_str().unwrap();
            assert!(customers[i].contains_key(c), "{site} {po} points at customer {c}, which is not a {site} customer");
            for row in doc["items"].as_array().unwrap() {
                let code = row["item_code"].as_str().unwrap();
                assert!(items[i].contains_key(code), "{site} {po}: row item {code} is not a {site} item");
            }
        }
        let cname = |i: usize, d: &Json| customers[i][d["customer"].as_str().unwrap()]["customer_name"].clone();
        assert_eq!(cname(0, so), cname(1, other), "{po}: both copies are for the same customer");
        assert_ne!(so["customer"], other["customer"], "{po}: customer names differ by site (naming series), so a copied name would be wrong");
        let rows = |d: &Json| d["items"].as_array().unwrap().iter().map(|r| (r["item_code"].clone(), r["qty"].as_f64())).collect::<Vec<_>>();
        assert_eq!(rows(so), rows(other), "{po}: child rows match");
    }
}

/// Polls until `done` holds, returning how long it took; panics after `limit`.
async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not done after {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_customers_two_sites_webhooks_and_conflicts() {
    let t0 = Instant::now();
    let (cloud, local) = support::sites(|o| o).await;
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_config(dir.path(), &cloud, &local, "manual");
    populate(&cloud, "C");
    populate(&local, "L");
    let app = Arc::new(App::open(Some(&config)).unwrap());

    // 1. One sync of every link, masters first.
    let t_sync = Instant::now();
    for link in app.link_names() {
        let r = app.run_link(&link, &RunOptions::default(), &NoProgress).await.unwrap_or_else(|e| panic!("{link}: {e}"));
        assert_eq!(r.summary.failed, [0, 0], "{link}: {:?}", r.summary.errors);
    }
    let sync_time = t_sync.elapsed();
    for (dt, n) in [("Customer", 2 * CUSTOMERS), ("Item", 2 * ITEMS), ("Sales Order", 2 * ORDERS)] {
        assert_eq!((cloud.count(dt), local.count(dt)), (n, n), "both sites hold every {dt}");
    }
    assert_links_are_local(&cloud, &local);
    cloud.reset_counters();
    local.reset_counters();
    for link in app.link_names() {
        let r = app.run_link(&link, &RunOptions::default(), &NoProgress).await.unwrap();
        assert_eq!(r.summary.writes(), 0, "{link}: a second sync finds nothing to do: {:?}", r.summary);
    }
    assert_eq!((writes(&cloud), writes(&local)), (0, 0), "a quiet system gets no writes");

    // 2. One document, one way, from the CLI; the other edit waits for the next sync.
    let (c7, c8) = (name_by(&cloud, "Customer", "customer_name", "C Customer 007"), name_by(&cloud, "Customer", "customer_name", "C Customer 008"));
    cloud.edit_as_user("Customer", &c7, json!({"territory": "Asia"})).unwrap();
    cloud.edit_as_user("Customer", &c8, json!({"territory": "Africa"})).unwrap();
    let out = cli_ok(&config, &["sync", "--object", "Customer", "--record", &c7, "--direction", "cloud-to-local"]);
    let territory = |site: &FrappeSimHandle, cname: &str| site.docs("Customer").into_iter().find(|d| d["customer_name"] == cname).unwrap()["territory"].clone();
    assert_eq!(territory(&local, "C Customer 007"), "Asia", "the one record was copied:\n{out}");
    assert_eq!(territory(&local, "C Customer 008"), "Europe", "and no other:\n{out}");
    let r = app.run_link("01_customer", &RunOptions::default(), &NoProgress).await.unwrap();
    assert_eq!(territory(&local, "C Customer 008"), "Africa", "the next sync still sees the edit the one-record run left (no cursor moved): {:?}", r.summary);
    assert_eq!(r.summary.writes(), 1, "and only that one: {:?}", r.summary);
    let refused = cli(&config, &["sync", "--object", "Customer", "--record", &c7, "--direction", "cloud-to-nowhere"]);
    assert_eq!(refused.status.code(), Some(2), "a direction naming no link's way is bad input: {}", String::from_utf8_lossy(&refused.stderr));

    // 3. `ask`: the same field changed differently on both sites waits for a person.
    let c9_local = name_by(&local, "Customer", "customer_name", "C Customer 009");
    let c9_cloud = name_by(&cloud, "Customer", "customer_name", "C Customer 009");
    cloud.edit_as_user("Customer", &c9_cloud, json!({"email_id": "cloud@example.com"})).unwrap();
    local.edit_as_user("Customer", &c9_local, json!({"email_id": "local@example.com"})).unwrap();
    cli_ok(&config, &["sync", "01_customer"]);
    let listed = cli_ok(&config, &["conflicts"]);
    assert!(listed.contains("01_customer · field email_id") && listed.contains("cloud@example.com") && listed.contains("local@example.com"), "{listed}");
    let rows: Json = serde_json::from_str(&cli_ok(&config, &["--json", "conflicts"])).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "one conflict: {rows:#}");
    let id = rows[0]["id"].as_i64().unwrap().to_string();
    let (cloud_email, local_email) = (|| cloud.doc("Customer", &c9_cloud).unwrap()["email_id"].clone(), || local.doc("Customer", &c9_local).unwrap()["email_id"].clone());
    assert_eq!((cloud_email(), local_email()), (json!("cloud@example.com"), json!("local@example.com")), "both sides are left as they are until someone decides");
    cli_ok(&config, &["conflicts", "--resolve", &id, "--take", "right"]);
    cli_ok(&config, &["sync", "01_customer"]);
    assert_eq!((cloud_email(), local_email()), (json!("local@example.com"), json!("local@example.com")), "--take right (local) is written to cloud");
    assert!(cli_ok(&config, &["conflicts"]).contains("no conflicts wait for you"));

    // 4. Webhooks: the listener as `crosswalk watch` starts it, the Webhook documents as
    // `crosswalk webhook-setup` makes them on each site.
    let w = crosswalk_engine::watch::start(app.clone(), false).await.unwrap();
    let base = format!("http://{}", w.webhook_addrs[0]);
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status(), 200, "the listener answers /health");
    for conn in ["cloud", "local"] {
        let out = cli_ok(&config, &["webhook-setup", conn, "--url", &base]);
        assert!(out.contains("created HOOK-") && !out.contains(support::WEBHOOK_SECRET), "{out}");
    }
    let again = cli_ok(&config, &["webhook-setup", "cloud", "--url", &base]);
    assert!(again.contains("updated HOOK-") && !again.contains("created"), "running it again updates, never duplicates:\n{again}");
    let hooks = cloud.docs("Webhook");
    assert_eq!(hooks.len(), 3 * 2 + 2 * 5, "Customer, Supplier, Item: on_update + on_trash; Sales/Purchase Order: also the submit events");
    assert!(hooks.iter().all(|h| h["webhook_secret"] == support::WEBHOOK_SECRET), "the secret is set on the site (the simulator shows it unmasked to the test)");

    let mut latencies = vec![];
    for (from, to, tag, i) in [(&cloud, &local, "C", 20), (&local, &cloud, "L", 21)] {
        let cname = format!("{tag} Customer {i:03}");
        let (src, dst) = (name_by(from, "Customer", "customer_name", &cname), name_by(to, "Customer", "customer_name", &cname));
        cloud.reset_counters();
        local.reset_counters();
        let webhook_runs = || app.runs(Some("01_customer"), 100).unwrap().iter().filter(|r| r.trigger == "webhook" && r.status != "running").count();
        let runs_before = webhook_runs();
        let edited = Instant::now();
        from.edit_as_user("Customer", &src, json!({"mobile_no": format!("+31 6 {i}")})).unwrap();
        let took = wait_for(&format!("{cname} reaching the other site"), Duration::from_secs(10), || to.doc("Customer", &dst).unwrap()["mobile_no"] == format!("+31 6 {i}")).await;
        assert!(took < Duration::from_secs(2), "{cname}: the edit took {took:?} to reach the other site through the webhook");
        latencies.push(took);
        // The echo: our PUT on the target fires its webhook; that run must find nothing to do.
        wait_for("the echo webhook", Duration::from_secs(5), || to.counters().webhooks_sent >= 1).await;
        // The edit's run, then the echo's: it comes after the edit's write, so it is a run of its own.
        wait_for("the echo's run", Duration::from_secs(5), || webhook_runs() >= runs_before + 2).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!((writes(from), writes(to)), (0, 1), "{cname}: exactly one write (to the other site), none from the echo; edited {:?} ago", edited.elapsed());
        let echo = &app.runs(Some("01_customer"), 1).unwrap()[0];
        assert_eq!((echo.trigger.as_str(), echo.status.as_str()), ("webhook", "ok"), "the echo's run finished: {echo:?}");
        let summary: crosswalk_core::runner::RunSummary = serde_json::from_value(echo.summary.clone()).unwrap();
        assert_eq!(summary.writes(), 0, "the echo's run read our own write back and planned nothing: {summary:?}");
    }

    // A child row edited on local reaches cloud with cloud's names.
    let po = "PO-L-004";
    let so_local = name_by(&local, "Sales Order", "po_no", po);
    let mut rows = local.doc("Sales Order", &so_local).unwrap()["items"].as_array().unwrap().clone();
    rows[0]["qty"] = json!(42.0);
    local.edit_as_user("Sales Order", &so_local, json!({"items": rows})).unwrap();
    let so_cloud = name_by(&cloud, "Sales Order", "po_no", po);
    let took = wait_for("the order's row edit reaching cloud", Duration::from_secs(10), || cloud.doc("Sales Order", &so_cloud).unwrap()["items"][0]["qty"] == json!(42.0)).await;
    assert!(took < Duration::from_secs(2), "the row edit took {took:?}");
    latencies.push(took);
    wait_for("the runs to settle", Duration::from_secs(5), || app.runs(None, 5).unwrap().iter().all(|r| r.status != "running")).await;
    assert_links_are_local(&cloud, &local);
    w.stop();
    eprintln!("scale e2e: initial sync of {} documents in {sync_time:?}; webhook latencies {latencies:?}; whole test {:?}", 2 * (CUSTOMERS + ITEMS + ORDERS), t0.elapsed());
}
