//! The Iranian connectors (Payamgostar CRM, Siagh finance) against their simulators over
//! real HTTP, and the Jalali calendar / digit conversions they rely on.

use std::collections::BTreeSet;
use std::time::Duration;

use crosswalk_connectors::jalali::{to_ascii_digits, JalaliDate};
use crosswalk_connectors::payamgostar::{PayamgostarConfig, PayamgostarConnector};
use crosswalk_core::{Connector, ConnectorError, Fields, ListRequest, Record, RecordPatch, Secret, Value};
use crosswalk_simulators::{PayamgostarSim, PayamgostarSimHandle, PayamgostarSimOptions};
use serde_json::json;

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

async fn list_all(c: &dyn Connector, object: &str) -> Vec<Record> {
    let mut out = vec![];
    let mut page = None;
    loop {
        let p = c.list(ListRequest { object: object.into(), since: None, page }).await.expect("list works");
        out.extend(p.records);
        match p.next_page {
            Some(n) => page = Some(n),
            None => return out,
        }
    }
}

// ---------------------------------------------------------------- Jalali

#[test]
fn jalali_known_dates_and_persian_digits() {
    let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(JalaliDate::new(1403, 1, 1).unwrap().to_gregorian(), Some(d(2024, 3, 20)), "Nowruz 1403");
    assert_eq!(JalaliDate::new(1399, 12, 30).unwrap().to_gregorian(), Some(d(2021, 3, 20)), "Esfand 30 of the leap year 1399");
    assert_eq!(JalaliDate::from_gregorian(d(2025, 3, 21)), JalaliDate::new(1404, 1, 1), "Nowruz 1404");
    assert_eq!(JalaliDate::parse("۱۴۰۴/۰۹/۰۴").map(|j| j.to_gregorian()), Some(Some(d(2025, 11, 25))), "Siagh's SystemDate in Persian digits");
    assert_eq!(to_ascii_digits("۰۹۱۲۳۴۵۶۷۸۹"), "09123456789", "a phone number in Persian digits");
}

// ---------------------------------------------------------------- Payamgostar

async fn pg_sim(ttl: Duration) -> PayamgostarSimHandle {
    PayamgostarSim::spawn(PayamgostarSimOptions { token_ttl: ttl, ..PayamgostarSimOptions::default() }).await
}

fn pg(sim: &PayamgostarSimHandle, tweak: impl FnOnce(&mut PayamgostarConfig)) -> PayamgostarConnector {
    let mut cfg = PayamgostarConfig::new(&sim.base_url, &sim.username);
    cfg.max_attempts = 2;
    tweak(&mut cfg);
    PayamgostarConnector::new(cfg, Secret::new(sim.password.clone())).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn payamgostar_logs_in_once_and_renews_before_expires_at() {
    let sim = pg_sim(Duration::from_secs(3)).await;
    let c = pg(&sim, |c| c.renew_before = Duration::from_secs(2));
    c.health().await.expect("health logs in");
    c.list(ListRequest { object: "persons".into(), ..Default::default() }).await.unwrap();
    assert_eq!(sim.counters().logins, 1, "a live token is reused, not a login per call");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    c.list(ListRequest { object: "persons".into(), ..Default::default() }).await.unwrap();
    assert_eq!(sim.counters().logins, 2, "within renew_before of expiresAt the client logs in again before the call");
    assert_eq!(sim.counters().unauthorized, 0, "renewal happens before the server would refuse the token");
}

#[tokio::test(flavor = "multi_thread")]
async fn payamgostar_logs_in_again_when_the_server_ends_the_session() {
    let sim = pg_sim(Duration::from_secs(3600)).await;
    let c = pg(&sim, |_| {});
    c.health().await.unwrap();
    sim.expire_tokens();
    c.health().await.expect("a 401 on an ended session is answered by one new login");
    assert_eq!((sim.counters().logins, sim.counters().unauthorized), (2, 1), "one refusal, one re-login");
    let bad = PayamgostarConnector::new(PayamgostarConfig::new(&sim.base_url, &sim.username), Secret::new("wrong")).unwrap();
    let e = bad.health().await.unwrap_err();
    assert!(matches!(&e, ConnectorError::Auth(m) if m.contains("username")), "a wrong password is an auth error saying what to check: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn payamgostar_pages_past_a_clamped_page_size() {
    let sim = pg_sim(Duration::from_secs(3600)).await;
    for i in 0..250 {
        sim.insert("person", json!({"FirstName": "نام", "LastName": format!("L{i}"), "CustomerNumber": format!("C{i:04}")}));
    }
    let c = pg(&sim, |c| c.page_size = 150);
    let all = list_all(&c, "persons").await;
    let ids: BTreeSet<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!((all.len(), ids.len()), (250, 250), "every person once, though the server clamps PageSize 150 to 100");
    assert_eq!(sim.counters().path("/api/v2/crmobject/person/find"), 3, "100 + 100 + 50: the short page ends the listing");
    assert!(all[0].updated_at.is_some(), "ModifyDate becomes updated_at");
    let hits = c.find("persons", "CustomerNumber", &[Value::text("C0042"), Value::text("۰")]).await.unwrap();
    assert_eq!(hits.len(), 1, "find keeps exact matches only");
    assert_eq!(hits[0].get("LastName"), &Value::text("L42"), "the right person is found by customer number");
}

#[tokio::test(flavor = "multi_thread")]
async fn payamgostar_creates_updates_and_deletes() {
    let sim = pg_sim(Duration::from_secs(3600)).await;
    let c = pg(&sim, |_| {});
    let phones = Value::text(r#"[{"default":true,"phoneType":"Mobile","phoneNumber":"09121234567"}]"#);
    let created = c.create("persons", vec![fields(&[("firstName", Value::text("علی")), ("lastName", Value::text("رضایی")), ("customerNumber", Value::text("1001")), ("phoneContacts", phones)])]).await.unwrap();
    let p = created.into_iter().next().unwrap().expect("a person with a name is created");
    assert_eq!(p.get("LastName"), &Value::text("رضایی"), "camelCase is stored PascalCase and read back");
    assert!(matches!(p.get("PhoneContacts"), Value::Text(t) if t.contains("09121234567")), "phones went as JSON objects and come back as JSON text");
    let bad = c.create("persons", vec![fields(&[("email", Value::text("x@y.ir"))])]).await.unwrap();
    assert!(matches!(&bad[0], Err(ConnectorError::Invalid(m)) if m.contains("الزامی")), "a refusal shows Payamgostar's own Persian words: {:?}", bad[0]);
    let upd = c.update("persons", vec![RecordPatch { id: p.id.clone(), fields: fields(&[("email", Value::text("ali@example.ir"))]) }]).await.unwrap();
    assert_eq!(upd[0].as_ref().unwrap().get("Email"), &Value::text("ali@example.ir"), "the update lands");
    let org = c.create("organizations", vec![fields(&[("name", Value::text("شرکت نمونه")), ("customerNumber", Value::text("2001"))])]).await.unwrap();
    assert!(org[0].is_ok(), "organizations are created too");
    let inv = c.create("sales_invoices", vec![fields(&[("identityId", Value::text(p.id.clone())), ("details", Value::text(r#"[{"productCode":"P1","count":2,"basePrice":1000}]"#))])]).await.unwrap();
    let inv = inv[0].as_ref().expect("sales invoices are created");
    assert_eq!(inv.get("CustomerNumber"), &Value::text("1001"), "an invoice carries its customer's customer number, looked up by IdentityId");
    let del = c.delete("persons", vec![p.id.clone(), "no-such-id".into()]).await.unwrap();
    assert!(del[0].is_ok(), "the person is deleted");
    assert!(matches!(del[1], Err(ConnectorError::NotFound(_))), "a missing id is reported per record");
    assert_eq!(sim.count("person"), 0, "nothing left behind");
}

// ---------------------------------------------------------------- Siagh

use crosswalk_connectors::siagh::{SiaghConfig, SiaghConnector};
use crosswalk_simulators::{SiaghSim, SiaghSimHandle, SiaghSimOptions};

async fn siagh_sim(ttl: Duration) -> SiaghSimHandle {
    SiaghSim::spawn(SiaghSimOptions { session_ttl: ttl, ..SiaghSimOptions::default() }).await
}

fn siagh(sim: &SiaghSimHandle) -> SiaghConnector {
    let mut cfg = SiaghConfig::new(&sim.base_url, &sim.username);
    cfg.max_attempts = 2;
    SiaghConnector::new(cfg, Secret::new(sim.password.clone())).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn siagh_logs_in_with_the_md5_password_and_again_when_the_session_ends() {
    let sim = siagh_sim(Duration::from_secs(3600)).await;
    let c = siagh(&sim);
    let id = c.health().await.expect("LoginUser with the upper-case MD5 of the password is accepted");
    assert!(id.details.iter().any(|(k, v)| k == "fiscal_year" && v == "1404"), "health shows the fiscal year from the login: {:?}", id.details);
    assert_eq!(sim.counters().logins, 1, "one login");
    sim.end_sessions();
    let all = c.list(ListRequest { object: "contacts".into(), ..Default::default() }).await.expect("an ended session is answered by a new login");
    assert!(all.records.is_empty(), "no contacts yet");
    assert_eq!((sim.counters().logins, sim.counters().session_refused), (2, 1), "one refusal, one re-login, then the call succeeds");
    let bad = SiaghConnector::new(SiaghConfig::new(&sim.base_url, &sim.username), Secret::new("wrong")).unwrap();
    let e = bad.health().await.unwrap_err();
    assert!(matches!(&e, ConnectorError::Auth(m) if m.contains("اشتباه") && m.contains("error (ErrError")), "a refused login shows Siagh's Persian words after an English summary: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn siagh_session_expiry_by_time_is_handled_too() {
    let sim = siagh_sim(Duration::from_millis(300)).await;
    let c = siagh(&sim);
    c.health().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    c.list(ListRequest { object: "contacts".into(), ..Default::default() }).await.expect("a session that timed out is renewed");
    assert_eq!(sim.counters().logins, 2, "logged in again after the session ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn siagh_contacts_are_listed_found_created_and_updated() {
    let sim = siagh_sim(Duration::from_secs(3600)).await;
    for i in 0..30 {
        sim.insert_contact(json!({"Name": format!("مشتری {i}"), "TelNo": format!("0912000{i:04}")}));
    }
    let c = siagh(&sim);
    let all = list_all(&c, "contacts").await;
    assert_eq!(all.len(), 30, "GetAll returns every contact in one page");
    assert_eq!(all[0].id, "10001", "the contact's Code is its id");
    let hit = c.find("contacts", "TelNo", &[Value::text("۰۹۱۲۰۰۰۰۰۰۷")]).await.unwrap();
    assert_eq!(hit.len(), 1, "a phone number typed in Persian digits finds the contact");
    assert_eq!(hit[0].get("Name"), &Value::text("مشتری 7"), "the right contact");
    let made = c.create("contacts", vec![fields(&[("Name", Value::text("شرکت آلفا")), ("TelNo", Value::text("02188776655"))])]).await.unwrap();
    let made = made[0].as_ref().expect("a contact with a name is saved through SaveFormData");
    assert_eq!(made.get("TelNo"), &Value::text("02188776655"), "read back through GetAll");
    assert_eq!(sim.counters().saves.get("2BFDA"), Some(&1), "saved with the documented contact form id");
    let upd = c.update("contacts", vec![RecordPatch { id: made.id.clone(), fields: fields(&[("Email", Value::text("info@alpha.ir"))]) }]).await.unwrap();
    assert_eq!(upd[0].as_ref().unwrap().get("Email"), &Value::text("info@alpha.ir"), "an update names the contact by its code control");
    let refused = c.create("contacts", vec![fields(&[("TelNo", Value::text("0912"))])]).await.unwrap();
    let e = refused[0].as_ref().unwrap_err();
    assert!(matches!(e, ConnectorError::Invalid(m) if m.contains("error (ErrError, code 1201): نام مخاطب الزامی است")), "Siagh's Persian refusal is shown as is, after an English summary: {e}");
    let del = c.delete("contacts", vec![made.id.clone()]).await.unwrap();
    assert!(matches!(del[0], Err(ConnectorError::Unsupported(_))), "Siagh documents no delete");
}

#[tokio::test(flavor = "multi_thread")]
async fn siagh_pre_invoices_carry_jalali_dates_customer_codes_and_lines() {
    let sim = siagh_sim(Duration::from_secs(3600)).await;
    let customer = sim.insert_contact(json!({"Name": "مشتری"}));
    let c = siagh(&sim);
    let lines = r#"[{"ProductCode":"P-1","Quantity":2,"UnitPrice":150000},{"ProductCode":"P-2","Quantity":1,"UnitPrice":90000}]"#;
    let date = Value::Date(chrono::NaiveDate::from_ymd_opt(2025, 11, 25).unwrap());
    let r = c.create("pre_invoices", vec![fields(&[("CustomerCode", Value::text(customer.clone())), ("Date", date), ("lines", Value::text(lines))])]).await.unwrap();
    let saved = r[0].as_ref().expect("the pre-invoice is saved");
    assert_eq!(saved.id, "PF-1", "the id is Siagh's ReturnCode");
    let pf = &sim.pre_invoices()[0];
    assert_eq!(pf.header.get("ord_preinvoice.date").map(String::as_str), Some("1404/09/04"), "2025-11-25 goes as the Jalali 1404/09/04");
    assert_eq!(pf.header.get("ord_preinvoice.salmali").map(String::as_str), Some("1404"), "the fiscal year follows the Jalali date");
    assert_eq!(pf.header.get("ord_preinvoice.customercode"), Some(&customer), "the customer code goes in its control");
    assert_eq!(pf.rows, vec![json!({"ItemCode":"P-1","Qty":2,"Price":150000}), json!({"ItemCode":"P-2","Qty":1,"Price":90000})], "lines become dataRows with the configured keys");
    let r = c.create("pre_invoices", vec![fields(&[("CustomerCode", Value::text("999")), ("Date", Value::text("1404/09/04")), ("lines", Value::text(lines))])]).await.unwrap();
    assert!(matches!(&r[0], Err(ConnectorError::Invalid(m)) if m.contains("یافت نشد") && m.contains("error (ErrError")), "an unknown customer is refused in Siagh's words: {:?}", r[0]);
    let r = c.create("pre_invoices", vec![fields(&[("Date", Value::text("1404/09/04")), ("lines", Value::text(lines))])]).await.unwrap();
    assert!(matches!(&r[0], Err(ConnectorError::Invalid(m)) if m.contains("not linked")), "an invoice whose customer has no customer number waits and says why: {:?}", r[0]);
    assert_eq!(sim.pre_invoices().len(), 1, "refused pre-invoices leave nothing in Siagh");
}

#[tokio::test(flavor = "multi_thread")]
async fn payamgostar_retries_a_503_and_reports_a_500_in_the_servers_words() {
    let sim = pg_sim(Duration::from_secs(3600)).await;
    let c = pg(&sim, |c| c.max_attempts = 3);
    c.health().await.unwrap();
    sim.fail_next(1, 503);
    c.list(ListRequest { object: "persons".into(), ..Default::default() }).await.expect("a 503 did nothing, so even a POST is sent again");
    sim.fail_next(1, 500);
    let e = c.list(ListRequest { object: "persons".into(), ..Default::default() }).await.unwrap_err();
    assert!(matches!(&e, ConnectorError::Unavailable(m) if m.contains("خطای داخلی سرور")), "a 500 is retryable later and shows the server's Persian message: {e}");
}
