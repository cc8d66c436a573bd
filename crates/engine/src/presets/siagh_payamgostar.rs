//! `siagh-payamgostar`: an Iranian company's Siagh finance system ("finance", left) and
//! Payamgostar CRM ("crm", right), with today's link options:
//!
//! - **Phase 1, `01_import_customers`** — finance contacts → CRM persons, once: matched by
//!   customer number (`Code` ↔ `CustomerNumber`), so an existing CRM customer is linked and
//!   a new one created, never a duplicate. No triggers: run it by hand
//!   (`crosswalk sync 01_import_customers`); running it again creates nothing.
//! - **Phase 2, `02_crm_to_finance`** — from then on CRM → finance, every SYNC_INTERVAL
//!   (default 5 minutes) and on webhooks; `right-to-left` with `right_wins`, so the CRM
//!   wins and finance-side edits are not copied back. The CRM's `CustomerNumber` holds the
//!   finance `Code` (`id_field`), so a customer created in the CRM is created in finance and
//!   gets its finance code written back.
//! - **Phase 3, `03_invoices`** — CRM sales invoices → finance pre-invoices with their lines
//!   (`Details` → `dataRows`), keyed to the customer through the `CustomerNumber` the CRM
//!   connector adds to each invoice; one whose customer has none yet waits and says why.
//!   Dates go to Siagh as Jalali.
//!
//! Usernames are settings; the two passwords are the connections' keyring secrets.

use std::path::Path;

use super::{q, InitPlan, SecretNeed, Values};
use crate::error::{AppError, ErrorCode};

fn base_url(v: &Values, var: &str, what: &str) -> Result<String, AppError> {
    let u = v.get(var).ok_or_else(|| AppError::new(ErrorCode::BadInput, format!("{what} is missing: set {var} (or pass it in --env-file)")))?;
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(AppError::new(ErrorCode::BadInput, format!("{var} must be an http(s) address, e.g. https://crm.example.ir")));
    }
    Ok(u.trim_end_matches('/').to_string())
}

pub fn init(_config_path: &Path, v: &Values) -> Result<InitPlan, AppError> {
    let crm = base_url(v, "CRM_API_BASE_URL", "the Payamgostar CRM's address")?;
    let finance = base_url(v, "FINANCE_API_BASE_URL", "the Siagh server's address")?;
    let need = |var: &str, what: &str| v.get(var).ok_or_else(|| AppError::new(ErrorCode::BadInput, format!("{what} is missing: set {var} (or pass it in --env-file)")));
    let crm_user = need("CRM_USERNAME", "the CRM API user")?;
    let finance_user = need("FINANCE_USERNAME", "the Siagh API user")?;
    let every = match v.get("SYNC_INTERVAL") {
        Some(s) => s.parse::<u64>().map_err(|_| AppError::new(ErrorCode::BadInput, format!("SYNC_INTERVAL {s:?} is not a whole number of seconds")))?.div_ceil(60).max(1),
        None => 5,
    };
    let text = format!(
        r#"# Crosswalk config written by `crosswalk init siagh-payamgostar`.
# Siagh finance (left) and Payamgostar CRM (right). Passwords are in the OS keyring
# (`crosswalk login finance`, `crosswalk login crm`) or FINANCE_PASSWORD / CRM_PASSWORD.
# Both APIs are thinly documented: check form ids, field codes and paths on your
# installation (see the comments in the connectors' docs) before the first real run.

[connections.finance]
kind = "siagh"
url = {finance}
username = {finance_user}
secret_env = "FINANCE_PASSWORD"
# contact_form_id = "2BFDA"      # installation-specific: copy from Siagh's form designer
# pre_invoice_form_id = "43D81"

[connections.finance.pre_invoice_line_fields]
# Payamgostar invoice detail key = Siagh dataRows key [UNSURE on both sides]
ProductCode = "ItemCode"
Count = "Qty"
BasePrice = "Price"
Description = "Description"

[connections.crm]
kind = "payamgostar"
url = {crm}
username = {crm_user}
secret_env = "CRM_PASSWORD"

# Phase 1: a one-time import, run by name only: crosswalk sync 01_import_customers
# (`manual`: "sync all", schedules and webhooks leave it alone; running it again creates nothing).
[links.01_import_customers]
left = {{ connection = "finance", object = "contacts" }}
right = {{ connection = "crm", object = "persons" }}
direction = "left-to-right"
match_key = {{ left = "Code", right = "CustomerNumber" }}
conflict = "right_wins"
deletes = "ignore"
triggers = {{ manual = true, on_save = false, on_webhook = false }}
fields = [
  {{ left = "Code", right = "CustomerNumber" }},
  {{ left = "Name", right = "NickName" }},
  {{ left = "Email", right = "Email" }},
  {{ left = "NationalCode", right = "NationalCode" }},
]

# Phase 2: the CRM leads; finance follows. Finance-side edits are not copied back.
[links.02_crm_to_finance]
left = {{ connection = "finance", object = "contacts" }}
right = {{ connection = "crm", object = "persons" }}
direction = "right-to-left"
# The CRM's CustomerNumber holds the finance contact's Code: it pairs the imported customers,
# and a customer created in the CRM gets its new finance code written back there, so its
# invoices can go to finance.
id_field = {{ side = "right", field = "CustomerNumber" }}
conflict = "right_wins"
deletes = "ignore"
triggers = {{ every_minutes = {every}, on_save = false, on_webhook = true }}
fields = [
  {{ left = "Name", right = "NickName" }},
  {{ left = "Email", right = "Email" }},
  {{ left = "NationalCode", right = "NationalCode" }},
]

# Phase 3: CRM sales invoices become finance pre-invoices, once their customer is linked.
[links.03_invoices]
left = {{ connection = "finance", object = "pre_invoices" }}
right = {{ connection = "crm", object = "sales_invoices" }}
direction = "right-to-left"
conflict = "right_wins"
deletes = "ignore"
triggers = {{ every_minutes = {every}, on_save = false, on_webhook = true }}
fields = [
  {{ left = "CustomerCode", right = "CustomerNumber" }},
  {{ left = "Date", right = "InvoiceDate" }},
  {{ left = "Number", right = "Number" }},
  {{ left = "lines", right = "Details" }},
]
"#,
        finance = q(&finance),
        crm = q(&crm),
        finance_user = q(&finance_user),
        crm_user = q(&crm_user),
    );
    Ok(InitPlan {
        config_text: text,
        secrets: vec![
            SecretNeed { connection: "finance".into(), env_var: "FINANCE_PASSWORD".into(), prompt: "Siagh API user's password".into(), value: v.get("FINANCE_PASSWORD").map(crosswalk_core::Secret::new) },
            SecretNeed { connection: "crm".into(), env_var: "CRM_PASSWORD".into(), prompt: "Payamgostar API user's password".into(), value: v.get("CRM_PASSWORD").map(crosswalk_core::Secret::new) },
        ],
        next_steps: vec![
            "crosswalk health                       # log in to both Siagh and Payamgostar".into(),
            "crosswalk sync 01_import_customers     # once: finance customers into the CRM".into(),
            "crosswalk sync                         # CRM → finance, invoices → pre-invoices".into(),
            format!("crosswalk watch                        # every {every} minutes and on webhooks"),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_loads_validates_and_keeps_passwords_out() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("crosswalk.toml");
        let mut v = Values::default();
        for (k, val) in [("CRM_API_BASE_URL", "http://127.0.0.1:9/"), ("CRM_USERNAME", "cu"), ("CRM_PASSWORD", "cp"), ("FINANCE_API_BASE_URL", "http://127.0.0.1:10"), ("FINANCE_USERNAME", "fu"), ("FINANCE_PASSWORD", "fp")] {
            v.env_file.insert(k.into(), val.into());
        }
        let plan = init(&cfg, &v).unwrap();
        std::fs::write(&cfg, &plan.config_text).unwrap();
        let c = crosswalk_core::Config::load(&cfg).expect("the written config must parse");
        crate::App::validate(&c).expect("the written config must validate");
        let names: Vec<&str> = c.links.keys().map(String::as_str).collect();
        assert_eq!(names, ["01_import_customers", "02_crm_to_finance", "03_invoices"], "phases run in name order");
        assert_eq!(c.links["02_crm_to_finance"].triggers.every_minutes, Some(5), "phase 2 polls every 5 minutes");
        assert_eq!(c.links["01_import_customers"].triggers.every_minutes, None, "the import is never scheduled");
        assert!(c.links["01_import_customers"].triggers.manual, "plain `crosswalk sync` leaves the import alone");
        assert!(!plan.config_text.contains("\"cp\"") && !plan.config_text.contains("\"fp\""), "passwords are not in the config");
        assert_eq!(plan.secrets[1].value.as_ref().map(|s| s.expose()), Some("cp"), "the CRM password goes to the keyring");
    }
}
