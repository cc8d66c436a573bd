//! `erpnext-erpnext` end to end: two Frappe simulator sites with different naming series,
//! synced through the engine's app API. Link fields (a Sales Order's `customer`, its rows'
//! `item_code`) are translated through the masters' pairs, so every document points at a
//! document of its own site; a document whose customer isn't synced yet waits, says why,
//! and lands on the next run; an unchanged run writes nothing.

use crosswalk_core::runner::{NoProgress, RunOptions, RunReport};
use crosswalk_engine::presets::{self, Values};
use crosswalk_engine::App;
use crosswalk_simulators::frappe::{FrappeSim, FrappeSimHandle, FrappeSimOptions};
use serde_json::{json, Value as Json};

mod scale;
mod support;
mod setup;

async fn run(app: &App, link: &str) -> RunReport {
    app.run_link(link, &RunOptions::default(), &NoProgress).await.unwrap_or_else(|e| panic!("{link}: {e}"))
}

async fn run_all(app: &App) -> Vec<RunReport> {
    let mut out = vec![];
    for link in app.link_names() {
        out.push(run(app, &link).await);
    }
    out
}

fn find<'a>(docs: &'a [Json], field: &str, value: &str) -> &'a Json {
    docs.iter().find(|d| d[field] == value).unwrap_or_else(|| panic!("no document with {field} = {value:?} in {docs:#?}"))
}

fn name_of(site: &FrappeSimHandle, doctype: &str, field: &str, value: &str) -> String {
    find(&site.docs(doctype), field, value)["name"].as_str().unwrap().to_string()
}

use support::writes;

#[tokio::test(flavor = "multi_thread")]
async fn sales_orders_point_at_their_own_sites_customers() {
    let cloud = FrappeSim::spawn(FrappeSimOptions { series_start: 1, ..FrappeSimOptions::default() }).await;
    let local = FrappeSim::spawn(FrappeSimOptions { series_start: 5001, utc_offset_minutes: 60, time_zone: Some("Europe/Amsterdam".into()), ..FrappeSimOptions::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    support::home();
    let config = dir.path().join("crosswalk.toml");
    let mut v = Values::default();
    for (k, val) in [
        ("CLOUD_ERP_URL", cloud.base_url.clone()),
        ("LOCAL_ERP_URL", local.base_url.clone()),
        ("CLOUD_API_KEY", cloud.api_key.clone()),
        ("LOCAL_API_KEY", local.api_key.clone()),
        ("CONFLICT_RESOLUTION", "newest_wins".into()),
        ("WEBHOOK_PORT", "0".into()),
    ] {
        v.flags.insert(k.into(), val);
    }
    let plan = presets::init("erpnext-erpnext", &config, &v).unwrap();
    assert!(plan.config_text.contains("[links.10_sales_order]\n"), "the document links are enabled:\n{}", plan.config_text);
    std::fs::write(&config, &plan.config_text).unwrap();
    let app = App::open(Some(&config)).unwrap();

    // A local-only customer first, so the sites' numbers differ even more.
    local.insert_as_user("Customer", json!({"customer_name": "Local Only BV", "customer_type": "Company"})).unwrap();
    let acme = cloud.insert_as_user("Customer", json!({"customer_name": "Acme Ltd", "customer_type": "Company"})).unwrap();
    let acme_cloud = acme["name"].as_str().unwrap().to_string();
    cloud.insert_as_user("Item", json!({"item_code": "WIDGET", "item_name": "Widget", "item_group": "Products", "stock_uom": "Nos", "standard_rate": 5})).unwrap();
    let so = cloud
        .insert_as_user("Sales Order", json!({"customer": acme_cloud, "transaction_date": "2026-01-05", "delivery_date": "2026-02-01", "po_no": "PO-1", "items": [{"item_code": "WIDGET", "qty": 2, "rate": 5, "delivery_date": "2026-02-01"}]}))
        .unwrap();
    let so_cloud = so["name"].as_str().unwrap().to_string();

    // 1. Masters first, then documents.
    for r in run_all(&app).await {
        assert_eq!(r.summary.failed, [0, 0], "{}: {:?}", r.link, r.summary.errors);
    }
    let acme_local = name_of(&local, "Customer", "customer_name", "Acme Ltd");
    assert!(acme_local.starts_with("CUST-5"), "the customer got the LOCAL site's naming: {acme_local}");
    assert_ne!(acme_local, acme_cloud);
    let local_so = find(&local.docs("Sales Order"), "po_no", "PO-1").clone();
    assert_eq!(local_so["customer"], acme_local.as_str(), "the local Sales Order points at the local customer, not cloud's {acme_cloud}: {local_so:#}");
    assert_eq!(local_so["items"][0]["item_code"], "WIDGET", "child rows' item_code is translated (items are named by code): {local_so:#}");
    assert_ne!(local_so["name"], so_cloud.as_str(), "documents are named by each site's series");
    let local_only_cloud = name_of(&cloud, "Customer", "customer_name", "Local Only BV");
    assert!(local_only_cloud.starts_with("CUST-0"), "the local customer got cloud naming on cloud: {local_only_cloud}");

    // 2. A document whose customer isn't synced yet waits and says why (both directions):
    // only the Sales Order link runs, as a webhook for the order alone would.
    let late_cloud = cloud.insert_as_user("Customer", json!({"customer_name": "Late Cloud GmbH", "customer_type": "Company"})).unwrap()["name"].as_str().unwrap().to_string();
    cloud.insert_as_user("Sales Order", json!({"customer": late_cloud, "transaction_date": "2026-01-06", "delivery_date": "2026-02-02", "po_no": "PO-2", "items": [{"item_code": "WIDGET", "qty": 1, "rate": 5, "delivery_date": "2026-02-02"}]})).unwrap();
    let late_local = local.insert_as_user("Customer", json!({"customer_name": "Late Local SA", "customer_type": "Company"})).unwrap()["name"].as_str().unwrap().to_string();
    local.insert_as_user("Sales Order", json!({"customer": late_local, "transaction_date": "2026-01-07", "delivery_date": "2026-02-03", "po_no": "PO-3", "items": [{"item_code": "WIDGET", "qty": 3, "rate": 5, "delivery_date": "2026-02-03"}]})).unwrap();
    let (cloud_orders, local_orders) = (cloud.count("Sales Order"), local.count("Sales Order"));
    let r = run(&app, "10_sales_order").await;
    assert_eq!(r.summary.failed, [1, 1], "one order waits on each side: {:?}", r.summary);
    let errors = r.summary.errors.join("\n");
    assert!(errors.contains(&format!("customer points at Customer \"{late_cloud}\", which is not synced to the other site yet; it waits until the 01_customer link has run")), "{errors}");
    assert!(errors.contains(&format!("Customer \"{late_local}\"")) && errors.matches("01_customer link has run").count() == 2, "{errors}");
    assert!(!errors.contains("not synced yet: "), "the marker of an unsynced read never reaches a site or the message: {errors}");
    assert_eq!((cloud.count("Sales Order"), local.count("Sales Order")), (cloud_orders, local_orders), "nothing was written pointing at a wrong customer");
    assert!(cloud.docs("Sales Order").iter().chain(local.docs("Sales Order").iter()).all(|d| !d["customer"].as_str().unwrap_or_default().contains("not synced")));

    // 3. The next full run (masters first) lands both.
    for r in run_all(&app).await {
        assert_eq!(r.summary.failed, [0, 0], "{}: {:?}", r.link, r.summary.errors);
    }
    let po2 = find(&local.docs("Sales Order"), "po_no", "PO-2").clone();
    assert_eq!(po2["customer"], name_of(&local, "Customer", "customer_name", "Late Cloud GmbH").as_str(), "{po2:#}");
    let po3 = find(&cloud.docs("Sales Order"), "po_no", "PO-3").clone();
    assert_eq!(po3["customer"], name_of(&cloud, "Customer", "customer_name", "Late Local SA").as_str(), "{po3:#}");
    assert_ne!(po3["customer"], late_local.as_str());

    // Every link field on both sites points at a document of its own site.
    for site in [&cloud, &local] {
        let customers: Vec<String> = site.docs("Customer").iter().map(|d| d["name"].as_str().unwrap().to_string()).collect();
        for so in site.docs("Sales Order") {
            assert!(customers.iter().any(|c| so["customer"] == c.as_str()), "{so:#} points at a customer of its own site {customers:?}");
        }
    }
    assert_eq!(cloud.count("Sales Order"), local.count("Sales Order"));
    assert_eq!(cloud.count("Customer"), local.count("Customer"));

    // 4. Nothing changed: a further run writes nothing on either site.
    cloud.reset_counters();
    local.reset_counters();
    for r in run_all(&app).await {
        assert_eq!(r.summary.writes(), 0, "{}: an unchanged run writes nothing: {:?}", r.link, r.summary);
        assert_eq!(r.summary.failed, [0, 0], "{}: {:?}", r.link, r.summary.errors);
    }
    assert_eq!((writes(&cloud), writes(&local)), (0, 0), "no write requests reached either site");

    // An edit of a linked field on local reaches cloud translated.
    let po3_local = name_of(&local, "Sales Order", "po_no", "PO-3");
    local.edit_as_user("Sales Order", &po3_local, json!({"customer": acme_local})).unwrap();
    for r in run_all(&app).await {
        assert_eq!(r.summary.failed, [0, 0], "{}: {:?}", r.link, r.summary.errors);
    }
    assert_eq!(find(&cloud.docs("Sales Order"), "po_no", "PO-3")["customer"], acme_cloud.as_str(), "the edit arrives as cloud's name of the customer");
}
