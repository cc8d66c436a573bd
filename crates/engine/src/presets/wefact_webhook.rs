//! `wefact-webhook`: WeFact debtors and invoices, one POST per new or changed record, to
//! automation webhooks (Zapier catch hooks, Make, n8n).

use std::path::Path;

use super::{q, InitPlan, SecretNeed, Values};
use crate::error::{AppError, ErrorCode};

const DEBTOR_FIELDS: &[&str] = &[
    "Identifier", "DebtorCode", "CompanyName", "Initials", "SurName", "Sex", "EmailAddress", "Address", "ZipCode", "City", "Country",
    "TaxNumber", "CompanyNumber", "PhoneNumber", "Created", "Modified",
];

const INVOICE_FIELDS: &[&str] = &[
    "Identifier", "InvoiceCode", "Debtor", "DebtorCode", "Date", "Term", "PayBefore", "AmountExcl", "AmountTax", "AmountIncl",
    "AmountOutstanding", "Status", "StatusName", "lines", "line_count", "Created", "Modified",
];

fn fields(list: &[&str]) -> String {
    list.iter().map(|f| format!("  {{ left = {}, right = {} }},", q(f), q(f))).collect::<Vec<_>>().join("\n")
}

fn url(v: &Values, var: &str) -> Result<String, AppError> {
    let u = v.get(var).ok_or_else(|| AppError::new(ErrorCode::BadInput, format!("{var} is missing: the webhook URL to send to (e.g. a Zapier catch hook)")))?;
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(AppError::new(ErrorCode::BadInput, format!("{var} must be an http(s) URL")));
    }
    Ok(u)
}

pub fn init(_config_path: &Path, v: &Values) -> Result<InitPlan, AppError> {
    let debtors = url(v, "DEBTORS_WEBHOOK_URL")?;
    let invoices = url(v, "INVOICES_WEBHOOK_URL")?;
    let every = match v.get("SYNC_INTERVAL") {
        Some(s) => {
            let secs: u64 = s.parse().map_err(|_| AppError::new(ErrorCode::BadInput, format!("SYNC_INTERVAL {s:?} is not a whole number of seconds")))?;
            secs.div_ceil(60).max(1)
        }
        None => 5,
    };
    let api_url = v.get("WEFACT_API_URL").map(|u| format!("url = {}\n", q(&u))).unwrap_or_default();
    let text = format!(
        r#"# Crosswalk config written by `crosswalk init wefact-webhook`.
# WeFact debtors and invoices → webhooks, one POST per new or changed record. The API key
# is in the OS keyring (`crosswalk login wefact`) or WEFACT_API_KEY; never in this file.

[connections.wefact]
kind = "wefact"
{api_url}secret_env = "WEFACT_API_KEY"

[connections.hooks]
kind = "webhook"
# A hook URL is itself a secret-like address: it is shown redacted in status and logs.
[connections.hooks.urls]
debtors = {debtors}
invoices = {invoices}

[links.debtors]
left = {{ connection = "wefact", object = "debtors" }}
right = {{ connection = "hooks", object = "debtors" }}
direction = "left-to-right"
deletes = "ignore"
triggers = {{ every_minutes = {every}, on_save = false, on_webhook = false }}
fields = [
{dfields}
]

[links.invoices]
left = {{ connection = "wefact", object = "invoices" }}
right = {{ connection = "hooks", object = "invoices" }}
direction = "left-to-right"
deletes = "ignore"
triggers = {{ every_minutes = {every}, on_save = false, on_webhook = false }}
fields = [
{ifields}
]
"#,
        debtors = q(&debtors),
        invoices = q(&invoices),
        dfields = fields(DEBTOR_FIELDS),
        ifields = fields(INVOICE_FIELDS),
    );
    Ok(InitPlan {
        config_text: text,
        secrets: vec![SecretNeed {
            connection: "wefact".into(),
            env_var: "WEFACT_API_KEY".into(),
            prompt: "WeFact API key (WeFact → Settings → API)".into(),
            value: v.get("WEFACT_API_KEY").map(crosswalk_core::Secret::new),
        }],
        next_steps: vec![
            "crosswalk health            # check the API key (and that WeFact accepts this machine's IP)".into(),
            "crosswalk sync              # send new and changed debtors and invoices".into(),
            "crosswalk status            # per object: last sync, records sent, failures".into(),
            "crosswalk watch             # every SYNC_INTERVAL".into(),
        ],
    })
}
