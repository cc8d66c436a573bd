//! siagh-payamgostar end to end through the `crosswalk` binary: Siagh and Payamgostar
//! simulators, 1,000 finance customers of which 200 are already in the CRM.

use std::collections::BTreeSet;

use crosswalk_simulators::{PayamgostarSim, PayamgostarSimOptions, SiaghSim, SiaghSimOptions};
use serde_json::{json, Value as Json};

use crate::support::*;

fn text(v: &Json, k: &str) -> String {
    v.get(k).and_then(Json::as_str).unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn import_link_follow_and_invoices() {
    let finance = SiaghSim::spawn(SiaghSimOptions::default()).await;
    let crm = PayamgostarSim::spawn(PayamgostarSimOptions::default()).await;
    let codes = finance.seed_customers(1000);
    let contacts = finance.contacts();
    // 200 customers are already in the CRM under their customer number.
    for c in contacts.iter().step_by(5) {
        crm.insert("person", json!({"NickName": text(c, "Name"), "Email": text(c, "Email"), "NationalCode": text(c, "NationalCode"), "CustomerNumber": text(c, "Code")}));
    }
    assert_eq!(crm.count("person"), 200);

    let w = World::new("unused");
    let env = w.dir.path().join(".env");
    std::fs::write(&env, format!("CRM_API_BASE_URL={}\nCRM_USERNAME={}\nCRM_PASSWORD={}\nFINANCE_API_BASE_URL={}\nFINANCE_USERNAME={}\nFINANCE_PASSWORD={}\n", crm.base_url, crm.username, crm.password, finance.base_url, finance.username, finance.password)).unwrap();
    let vars = [("CRM_PASSWORD", crm.password.as_str()), ("FINANCE_PASSWORD", finance.password.as_str())];
    let run = |args: &[&str]| {
        let out = w.run_env(args, &vars);
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "crosswalk {args:?} failed:\n{text}");
        text
    };
    run(&["init", "siagh-payamgostar", "--env-file", env.to_str().unwrap()]);
    let health = run(&["health"]);
    assert!(health.contains("Siagh") && health.contains("Payamgostar"), "health checks both APIs:\n{health}");

    // Phase 1: import once.
    let out = run(&["sync", "01_import_customers"]);
    let persons = crm.records("person");
    let numbers: BTreeSet<String> = persons.iter().map(|p| text(p, "CustomerNumber")).collect();
    assert_eq!(persons.len(), 1000, "800 created + 200 linked:\n{out}");
    assert_eq!(numbers.len(), 1000, "no customer number twice (0 duplicates)");
    assert_eq!(numbers, codes.iter().cloned().collect::<BTreeSet<_>>(), "every finance customer is in the CRM by its code");
    let creates = crm.counters().path("/api/v2/crmobject/person/create");
    assert_eq!(creates, 800, "only the 800 new customers were created");
    let out = run(&["sync", "01_import_customers"]);
    assert_eq!(crm.counters().path("/api/v2/crmobject/person/create"), 800, "running the import again creates nothing:\n{out}");
    assert_eq!(crm.count("person"), 1000);

    // Plain `crosswalk sync` runs phases 2 and 3, never the manual import.
    let out = run(&["sync"]);
    assert!(!out.contains("01_import_customers") && out.contains("02_crm_to_finance"), "sync all leaves the manual import alone:\n{out}");

    // Phase 2: CRM → finance.
    run(&["sync", "02_crm_to_finance"]);
    let target = persons.iter().find(|p| text(p, "CustomerNumber") == codes[7]).unwrap();
    crm.edit_as_user("person", &text(target, "CrmId"), json!({"NickName": "نام ویرایش شده در CRM"})).unwrap();
    let out = run(&["sync", "02_crm_to_finance"]);
    let f = finance.contacts().into_iter().find(|c| text(c, "Code") == codes[7]).unwrap();
    assert_eq!(text(&f, "Name"), "نام ویرایش شده در CRM", "a CRM edit reaches finance:\n{out}");
    let out = run(&["sync", "02_crm_to_finance"]);
    assert!(out.contains("finance: 0 created, 0 updated") && out.contains("crm: 0 created, 0 updated"), "our own write to finance does not come back (echo suppression):\n{out}");
    finance.edit_as_user(&codes[8], json!({"Name": "ویرایش در مالی"})).unwrap();
    let out = run(&["sync", "02_crm_to_finance"]);
    let p = crm.records("person").into_iter().find(|p| text(p, "CustomerNumber") == codes[8]).unwrap();
    assert_ne!(text(&p, "NickName"), "ویرایش در مالی", "a finance edit is not copied to the CRM:\n{out}");
    assert!(out.contains("ویرایش در مالی") && out.contains("skipped"), "the skipped finance edit is in the run's notes:\n{out}");

    // A customer created in the CRM goes to finance and gets its finance code back.
    let newbie = crm.insert("person", json!({"NickName": "مشتری جدید CRM", "Email": "new@example.ir"}));
    let out = run(&["sync", "02_crm_to_finance"]);
    let f = finance.contacts().into_iter().find(|c| text(c, "Name") == "مشتری جدید CRM").unwrap_or_else(|| panic!("the new CRM customer is created in finance:\n{out}"));
    let p = crm.records("person").into_iter().find(|p| text(p, "CrmId") == newbie).unwrap();
    assert_eq!(text(&p, "CustomerNumber"), text(&f, "Code"), "its finance code is written back as the CRM customer number:\n{out}");

    // Phase 3: 50 CRM invoices → finance pre-invoices.
    let persons = crm.records("person");
    for i in 0..50 {
        let p = &persons[i * 7];
        crm.insert("invoice/sales", json!({"Number": format!("INV-{i:03}"), "IdentityId": text(p, "CrmId"), "InvoiceDate": "2025-11-25T10:00:00+03:30", "Details": [{"ProductCode": format!("P-{i}"), "Count": 2, "BasePrice": 150000}]}));
    }
    let out = run(&["sync", "03_invoices"]);
    let pfs = finance.pre_invoices();
    assert_eq!(pfs.len(), 50, "50 pre-invoices reach finance:\n{out}");
    for (i, pf) in pfs.iter().enumerate() {
        let _ = i;
        assert_eq!(pf.header.get("ord_preinvoice.date").map(String::as_str), Some("1404/09/04"), "Jalali date: {pf:?}");
        assert!(codes.contains(pf.header.get("ord_preinvoice.customercode").unwrap()), "a finance customer code: {pf:?}");
        assert_eq!(pf.rows.len(), 1, "the line came along: {pf:?}");
        assert_eq!(pf.rows[0]["Qty"], json!(2), "line keys renamed for Siagh: {pf:?}");
    }
    let by_number: BTreeSet<String> = pfs.iter().map(|p| p.header.get("ord_preinvoice.refno").cloned().unwrap_or_default()).collect();
    assert_eq!(by_number.len(), 50, "each invoice once");
    let inv7 = pfs.iter().find(|p| p.header.get("ord_preinvoice.refno").map(String::as_str) == Some("INV-001")).unwrap();
    assert_eq!(inv7.header.get("ord_preinvoice.customercode"), Some(&text(&persons[7], "CustomerNumber")), "the right customer code");
    let out = run(&["sync", "03_invoices"]);
    assert_eq!(finance.pre_invoices().len(), 50, "a second run sends nothing again:\n{out}");

    // An invoice whose customer is not in finance yet waits, says why, and goes once it is.
    let late = crm.insert("person", json!({"NickName": "مشتری دیرتر"}));
    crm.insert("invoice/sales", json!({"Number": "INV-LATE", "IdentityId": late, "InvoiceDate": "2025-11-25T10:00:00+03:30", "Details": [{"ProductCode": "P-L", "Count": 1, "BasePrice": 1000}]}));
    let out = w.run_env(&["sync", "03_invoices"], &vars);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("not linked"), "the waiting invoice says why:\n{said}");
    assert_eq!(finance.pre_invoices().len(), 50, "and is not sent yet");
    run(&["sync", "02_crm_to_finance"]);
    let out = run(&["sync", "03_invoices"]);
    assert_eq!(finance.pre_invoices().len(), 51, "once its customer is linked the invoice goes:\n{out}");
}
