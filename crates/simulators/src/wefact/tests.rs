use serde_json::Value as Json;

use super::*;

async fn post(sim: &WeFactSimHandle, form: &[(&str, &str)]) -> Json {
    reqwest::Client::new().post(&sim.url).form(form).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn list_pages_show_has_lines_and_errors_are_envelopes() {
    let sim = WeFactSim::spawn(WeFactSimOptions::default()).await;
    sim.seed(30, 20);
    let k = sim.api_key.clone();
    let p = post(&sim, &[("api_key", &k), ("controller", "debtor"), ("action", "list"), ("offset", "25"), ("limit", "10")]).await;
    assert_eq!((p["totalresults"].as_u64(), p["debtors"].as_array().map(Vec::len)), (Some(30), Some(5)), "offset/limit page over the total");
    let inv = post(&sim, &[("api_key", &k), ("controller", "invoice"), ("action", "list"), ("limit", "1")]).await;
    assert!(inv["invoices"][0].get("InvoiceLines").is_none(), "list answers leave the lines out");
    let one = post(&sim, &[("api_key", &k), ("controller", "invoice"), ("action", "show"), ("Identifier", "1")]).await;
    assert!(one["invoice"]["InvoiceLines"].as_array().map(|a| !a.is_empty()).unwrap_or(false), "show has the lines");
    let bad = post(&sim, &[("api_key", "nope"), ("controller", "debtor"), ("action", "list")]).await;
    assert_eq!((bad["status"].as_str(), bad["errors"][0].as_str()), (Some("error"), Some("Invalid API key")), "a wrong key is an error envelope");
    let add = post(&sim, &[("api_key", &k), ("controller", "invoice"), ("action", "add"), ("Debtor", "1"), ("InvoiceLines[0][Number]", "2"), ("InvoiceLines[0][PriceExcl]", "10.00"), ("InvoiceLines[0][TaxPercentage]", "21")]).await;
    assert_eq!(add["invoice"]["AmountIncl"], "24.20", "PHP-style lines are read and totals computed");
    let del = post(&sim, &[("api_key", &k), ("controller", "debtor"), ("action", "delete"), ("Identifier", "1")]).await;
    assert_eq!(del["status"], "error", "debtors cannot be deleted through the API");
}
