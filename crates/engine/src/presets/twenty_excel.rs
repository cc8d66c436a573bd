//! `twenty-excel`: a Twenty CRM workspace two-way with a workbook (Companies and People).

use std::path::Path;

use super::{q, rel_path, InitPlan, SecretNeed, Values};
use crate::error::{AppError, ErrorCode};

const COMPANY_FIELDS: &[&str] = &[
    "name",
    "domainName.primaryLinkUrl",
    "employees",
    "annualRecurringRevenue.amount",
    "annualRecurringRevenue.currencyCode",
    "address.addressStreet1",
    "address.addressCity",
    "address.addressPostcode",
    "address.addressCountry",
    "idealCustomerProfile",
];

const PEOPLE_FIELDS: &[&str] = &[
    "name.firstName",
    "name.lastName",
    "emails.primaryEmail",
    "phones.primaryPhoneNumber",
    "jobTitle",
    "city",
    "company",
];

/// `CONFLICT_STRATEGY` of the old script → our policy.
fn policy(v: &str) -> Result<&'static str, AppError> {
    Ok(match v.to_ascii_lowercase().replace('-', "_").as_str() {
        "newest_wins" | "newest" | "latest" | "last_modified" => "newest_wins",
        "crm_wins" | "twenty_wins" | "crm" | "left_wins" => "left_wins",
        "excel_wins" | "workbook_wins" | "excel" | "right_wins" => "right_wins",
        "ask" | "manual" => "ask",
        other => {
            return Err(AppError::new(ErrorCode::BadInput, format!(
                "CONFLICT_STRATEGY {other:?} is not known; use newest_wins, crm_wins, excel_wins or ask")))
        }
    })
}

fn fields(list: &[&str], types: &[(&str, &str)]) -> String {
    list.iter()
        .map(|f| {
            let ty = types.iter().find(|(n, _)| n == f).map(|(_, t)| format!(", type = {}", q(t))).unwrap_or_default();
            format!("  {{ left = {}, right = {}{ty} }},", q(f), q(f))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn init(config_path: &Path, v: &Values) -> Result<InitPlan, AppError> {
    let url = v.get("TWENTY_API_URL").ok_or_else(|| AppError::new(ErrorCode::BadInput,
        "the Twenty URL is missing: pass --url https://your-workspace.twenty.com (or set TWENTY_API_URL)"))?;
    let url = url.trim_end_matches('/').trim_end_matches("/rest").to_string();
    let workbook = v.get("EXCEL_FILE_PATH").unwrap_or_else(|| "crm.xlsx".to_string());
    let conflict = policy(&v.get("CONFLICT_STRATEGY").unwrap_or_else(|| "newest_wins".into()))?;
    let rpm = match v.get("API_RATE_LIMIT_DELAY") {
        Some(d) => {
            let secs: f64 = d.parse().map_err(|_| AppError::new(ErrorCode::BadInput, format!("API_RATE_LIMIT_DELAY {d:?} is not a number of seconds")))?;
            if secs <= 0.0 { 100 } else { ((60.0 / secs).floor() as u64).clamp(1, 100) }
        }
        None => 100,
    };
    let batch: u64 = match v.get("BATCH_SIZE") {
        Some(b) => b.parse::<u64>().map_err(|_| AppError::new(ErrorCode::BadInput, format!("BATCH_SIZE {b:?} is not a whole number")))?.clamp(1, 60),
        None => 60,
    };
    let every: u64 = match v.get("SYNC_INTERVAL_MINUTES") {
        Some(m) => m.parse::<u64>().map_err(|_| AppError::new(ErrorCode::BadInput, format!("SYNC_INTERVAL_MINUTES {m:?} is not a whole number")))?.max(1),
        None => 30,
    };
    let wb = rel_path(config_path, &workbook);
    let company_cols: Vec<String> = std::iter::once("id").chain(COMPANY_FIELDS.iter().copied()).map(q).collect();
    let people_cols: Vec<String> = std::iter::once("id").chain(PEOPLE_FIELDS.iter().copied()).map(q).collect();
    let text = format!(
        r#"# Crosswalk config written by `crosswalk init twenty-excel`.
# Reference: README.md, "Configuration". Secrets are in the OS keyring, never here.

[connections.crm]
kind = "twenty"
url = {url}
# The API key is in the OS keyring (`crosswalk login crm`); on a server without a
# keyring Crosswalk reads it from this environment variable instead.
secret_env = "TWENTY_API_KEY"
requests_per_minute = {rpm}
batch_size = {batch}

[connections.workbook]
kind = "workbook"
path = {wb}

[connections.workbook.sheets.Companies]
columns = [{ccols}]
id_columns = ["id"]
types = {{ "annualRecurringRevenue.amount" = "decimal", employees = "decimal", idealCustomerProfile = "bool" }}

[connections.workbook.sheets.People]
columns = [{pcols}]
id_columns = ["id"]

[links.companies]
left = {{ connection = "crm", object = "companies" }}
right = {{ connection = "workbook", object = "Companies" }}
# The workbook's `id` column holds the Twenty id; new rows get theirs written back.
id_field = {{ side = "right", field = "id" }}
conflict = "{conflict}"
deletes = "ignore"
triggers = {{ every_minutes = {every}, on_save = true }}
fields = [
{cfields}
]

[links.people]
left = {{ connection = "crm", object = "people" }}
right = {{ connection = "workbook", object = "People" }}
id_field = {{ side = "right", field = "id" }}
conflict = "{conflict}"
deletes = "ignore"
triggers = {{ every_minutes = {every}, on_save = true }}
fields = [
{pfields}
]
"#,
        url = q(&url),
        wb = q(&wb),
        ccols = company_cols.join(", "),
        pcols = people_cols.join(", "),
        cfields = fields(COMPANY_FIELDS, &[("employees", "decimal"), ("annualRecurringRevenue.amount", "decimal"), ("idealCustomerProfile", "bool")]),
        pfields = fields(PEOPLE_FIELDS, &[]),
    );
    Ok(InitPlan {
        config_text: text,
        secrets: vec![SecretNeed {
            connection: "crm".into(),
            env_var: "TWENTY_API_KEY".into(),
            prompt: "Twenty API key (Settings → APIs & Webhooks)".into(),
            value: v.get("TWENTY_API_KEY").map(crosswalk_core::Secret::new),
        }],
        next_steps: vec![
            "crosswalk health            # check the API key works".into(),
            "crosswalk pull              # CRM → workbook (creates it, styled, when missing)".into(),
            "crosswalk sync              # both ways; edit the workbook and run again".into(),
            "crosswalk watch             # every N minutes and whenever the workbook is saved".into(),
        ],
    })
}
