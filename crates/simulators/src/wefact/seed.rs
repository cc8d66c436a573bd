//! Realistic fake debtors and invoices, and the rules `add`/`edit` apply.

use chrono::{Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal_free::money;
use serde_json::{json, Map, Value as Json};

use super::{local_text, Store};

const COMPANIES: &[&str] = &["Bakkerij", "Installatiebedrijf", "Drukkerij", "Hoveniers", "Adviesbureau", "Garage", "Tandartspraktijk", "Architecten"];
const NAMES: &[&str] = &["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos"];
const INITIALS: &[&str] = &["J.", "A.", "M.", "P."];
const SEXES: &[&str] = &["m", "f", "u"];
const CITIES: &[&str] = &["Amsterdam", "Utrecht", "Delft", "Groningen", "Zwolle", "Haarlem", "Breda", "Arnhem"];
const PRODUCTS: &[(&str, &str, i64)] = &[("HOST", "Webhosting per maand", 1500), ("SUP", "Support uur", 8500), ("DOM", "Domeinnaam .nl", 999), ("LIC", "Licentie", 24900)];

/// Money as WeFact writes it: `"123.45"` from cents.
mod rust_decimal_free {
    pub fn money(cents: i64) -> String {
        format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100)
    }
}

pub(crate) fn seed(store: &mut Store, debtors: usize, invoices: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(store.next_debtor * 7919 + store.next_invoice));
    let newest = Utc::now() - Duration::days(1);
    let total = (debtors + invoices) as i64;
    let mut k = 0i64;
    let mut time = || {
        k += 1;
        local_text(newest - Duration::minutes(total - k))
    };
    for _ in 0..debtors {
        let id = store.next_debtor;
        store.next_debtor += 1;
        let name = NAMES[rng.gen_range(0..NAMES.len())];
        let t = time();
        let d = json!({
            "Identifier": id.to_string(),
            "DebtorCode": format!("DB{}", 10000 + id),
            "CompanyName": format!("{} {} {}", COMPANIES[rng.gen_range(0..COMPANIES.len())], name, id),
            "Initials": INITIALS[rng.gen_range(0..4)],
            "SurName": name,
            "Sex": SEXES[rng.gen_range(0..3)],
            "EmailAddress": format!("info{id}@example.nl"),
            "Address": format!("Kerkstraat {}", rng.gen_range(1..200)),
            "ZipCode": format!("{} AB", rng.gen_range(1000..9999)),
            "City": CITIES[rng.gen_range(0..CITIES.len())],
            "Country": "NL",
            "TaxNumber": format!("NL{:09}B01", rng.gen_range(0..999_999_999u64)),
            "CompanyNumber": format!("{:08}", rng.gen_range(0..99_999_999u64)),
            "PhoneNumber": format!("06{:08}", rng.gen_range(0..99_999_999u64)),
            "Created": t,
            "Modified": t,
        });
        store.debtors.insert(id, d.as_object().cloned().unwrap_or_default());
    }
    let debtor_ids: Vec<u64> = store.debtors.keys().copied().collect();
    for _ in 0..invoices {
        if debtor_ids.is_empty() {
            break;
        }
        let debtor = debtor_ids[rng.gen_range(0..debtor_ids.len())];
        let lines: Vec<Json> = (0..rng.gen_range(1..=4))
            .map(|n| {
                let (code, desc, price) = PRODUCTS[rng.gen_range(0..PRODUCTS.len())];
                json!({"Number": rng.gen_range(1..5).to_string(), "ProductCode": code, "Description": desc, "PriceExcl": money(price), "TaxPercentage": "21", "Ordering": n.to_string()})
            })
            .collect();
        let mut inv = Map::new();
        inv.insert("Debtor".into(), Json::String(debtor.to_string()));
        inv.insert("Date".into(), Json::String((Utc::now() - Duration::days(rng.gen_range(2..200))).format("%Y-%m-%d").to_string()));
        inv.insert("Term".into(), Json::String("14".into()));
        inv.insert("Status".into(), Json::String(["0", "1", "2", "3", "4"][rng.gen_range(0..5)].into()));
        inv.insert("InvoiceLines".into(), Json::Array(lines));
        let t = time();
        let _ = add_invoice(store, inv, &t);
    }
}

fn cents(s: &Json) -> i64 {
    let text = match s {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text.trim().replace(',', ".");
    let (int, frac) = text.split_once('.').unwrap_or((&text, "0"));
    let frac: String = frac.chars().chain("00".chars()).take(2).collect();
    let neg = int.starts_with('-');
    let v = int.trim_start_matches('-').parse::<i64>().unwrap_or(0) * 100 + frac.parse::<i64>().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// Recomputes the amounts of an invoice from its lines.
pub(crate) fn totals(inv: &mut Map<String, Json>) {
    let lines = inv.get("InvoiceLines").and_then(Json::as_array).cloned().unwrap_or_default();
    let mut excl = 0i64;
    let mut tax = 0i64;
    for l in &lines {
        let n = l.get("Number").map(cents).unwrap_or(100);
        let line = l.get("PriceExcl").map(cents).unwrap_or(0) * n / 100;
        let pct = l.get("TaxPercentage").map(cents).unwrap_or(2100);
        excl += line;
        tax += line * pct / 10000;
    }
    inv.insert("AmountExcl".into(), Json::String(money(excl)));
    inv.insert("AmountTax".into(), Json::String(money(tax)));
    inv.insert("AmountIncl".into(), Json::String(money(excl + tax)));
    let paid = inv.get("Status").and_then(Json::as_str) == Some("3");
    inv.insert("AmountOutstanding".into(), Json::String(money(if paid { 0 } else { excl + tax })));
}

/// `debtor.add`: needs `CompanyName` or `SurName`.
pub(crate) fn add_debtor(store: &mut Store, mut d: Map<String, Json>, now: &str) -> Result<Map<String, Json>, Vec<String>> {
    let has = |k: &str| d.get(k).and_then(Json::as_str).map(|s| !s.trim().is_empty()).unwrap_or(false);
    if !has("CompanyName") && !has("SurName") {
        return Err(vec!["Please enter a company name or a surname".into()]);
    }
    let id = store.next_debtor;
    store.next_debtor += 1;
    d.insert("Identifier".into(), Json::String(id.to_string()));
    d.entry("DebtorCode").or_insert_with(|| Json::String(format!("DB{}", 10000 + id)));
    d.insert("Created".into(), Json::String(now.to_string()));
    d.insert("Modified".into(), Json::String(now.to_string()));
    store.debtors.insert(id, d.clone());
    Ok(d)
}

/// `invoice.add`: needs an existing `Debtor` (or `DebtorCode`) and at least one line.
pub(crate) fn add_invoice(store: &mut Store, mut inv: Map<String, Json>, now: &str) -> Result<Map<String, Json>, Vec<String>> {
    let debtor = match (inv.get("Debtor").and_then(Json::as_str), inv.get("DebtorCode").and_then(Json::as_str)) {
        (Some(id), _) => id.parse::<u64>().ok().filter(|id| store.debtors.contains_key(id)),
        (None, Some(code)) => store.debtors.iter().find(|(_, d)| d.get("DebtorCode").and_then(Json::as_str) == Some(code)).map(|(id, _)| *id),
        _ => None,
    };
    let Some(debtor) = debtor else { return Err(vec!["Invalid debtor: give an existing Debtor or DebtorCode".into()]) };
    if inv.get("InvoiceLines").and_then(Json::as_array).map(|a| a.is_empty()).unwrap_or(true) {
        return Err(vec!["An invoice needs at least one invoice line".into()]);
    }
    let id = store.next_invoice;
    store.next_invoice += 1;
    let code = store.debtors.get(&debtor).and_then(|d| d.get("DebtorCode")).cloned().unwrap_or(Json::Null);
    inv.insert("Identifier".into(), Json::String(id.to_string()));
    inv.insert("Debtor".into(), Json::String(debtor.to_string()));
    inv.insert("DebtorCode".into(), code);
    let status = inv.entry("Status").or_insert_with(|| Json::String("0".into())).clone();
    let draft = status.as_str() == Some("0");
    inv.entry("InvoiceCode").or_insert_with(|| Json::String(if draft { format!("[concept]{id:04}") } else { format!("F2024-{id:04}") }));
    inv.entry("Date").or_insert_with(|| Json::String(Utc::now().format("%Y-%m-%d").to_string()));
    inv.entry("Term").or_insert_with(|| Json::String("14".into()));
    let date = inv.get("Date").and_then(Json::as_str).and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let term = inv.get("Term").and_then(Json::as_str).and_then(|t| t.parse::<i64>().ok()).unwrap_or(14);
    if let Some(d) = date {
        inv.insert("PayBefore".into(), Json::String((d + Duration::days(term)).format("%Y-%m-%d").to_string()));
    }
    if let Some(Json::Array(lines)) = inv.get_mut("InvoiceLines") {
        for (i, l) in lines.iter_mut().enumerate() {
            if let Json::Object(m) = l {
                m.insert("Identifier".into(), Json::String(format!("{}", id * 100 + i as u64)));
            }
        }
    }
    totals(&mut inv);
    inv.insert("Created".into(), Json::String(now.to_string()));
    inv.insert("Modified".into(), Json::String(now.to_string()));
    store.invoices.insert(id, inv.clone());
    Ok(inv)
}
