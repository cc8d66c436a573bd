//! `erpnext-erpnext`: two Frappe/ERPNext sites ("cloud" = left, "local" = right) kept in
//! step per DocType, two-way, by webhooks and on demand.
//!
//! - Masters first: links are named `01_customer`, `02_supplier`, `03_item`, then
//!   `10_sales_order`, `11_purchase_order`, so running links in name order syncs the
//!   documents a Sales Order points at before the order itself.
//! - Masters are matched on a natural key (customer/supplier name, item code) the first
//!   time, then by stored pairs: document names differ between sites (naming series).
//! - Excluded fields (never mapped): `name`, `owner`, `creation`, `modified`,
//!   `modified_by`, `docstatus`, `idx`, and child rows' `name`/`parent`/`idx`.
//! - **Link translation**: a Sales Order's `customer` and its rows' `item_code` hold names
//!   of the *source* site; the engine translates them through the masters' pairs
//!   (`crate::translate`), so a Sales Order on the local site points at the local
//!   customer. A document whose customer/item isn't synced yet waits and says why.

use std::path::Path;

use super::{q, InitPlan, SecretNeed, Values};
use crate::error::{AppError, ErrorCode};

/// `(link, DocType, natural key, fields with types)`.
type LinkSpec = (&'static str, &'static str, Option<&'static str>, &'static [(&'static str, Option<&'static str>)]);

const MASTERS: &[LinkSpec] = &[
    ("01_customer", "Customer", Some("customer_name"), &[("customer_name", None), ("customer_type", None), ("territory", None), ("email_id", None), ("mobile_no", None), ("credit_limit", Some("decimal")), ("disabled", Some("bool"))]),
    ("02_supplier", "Supplier", Some("supplier_name"), &[("supplier_name", None), ("supplier_group", None), ("country", None), ("email_id", None)]),
    ("03_item", "Item", Some("item_code"), &[("item_code", None), ("item_name", None), ("item_group", None), ("stock_uom", None), ("standard_rate", Some("decimal")), ("description", None), ("disabled", Some("bool"))]),
];

const DOCUMENTS: &[LinkSpec] = &[
    ("10_sales_order", "Sales Order", None, &[("customer", None), ("transaction_date", Some("date")), ("delivery_date", Some("date")), ("po_no", None), ("items", None)]),
    ("11_purchase_order", "Purchase Order", None, &[("supplier", None), ("transaction_date", Some("date")), ("schedule_date", Some("date")), ("items", None)]),
];

/// `CONFLICT_RESOLUTION` of the old script → our policy.
fn policy(v: &str) -> Result<&'static str, AppError> {
    Ok(match v.to_ascii_lowercase().replace('-', "_").as_str() {
        "manual" | "ask" => "ask",
        "newest_wins" | "newest" | "latest" | "last_modified" | "timestamp" => "newest_wins",
        "cloud_wins" | "cloud" | "left_wins" => "left_wins",
        "local_wins" | "local" | "right_wins" => "right_wins",
        other => return Err(AppError::new(ErrorCode::BadInput, format!("CONFLICT_RESOLUTION {other:?} is not known; use manual, newest_wins, cloud_wins or local_wins"))),
    })
}

fn link(spec: &LinkSpec, conflict: &str) -> String {
    let (name, doctype, key, fields) = spec;
    let fields: Vec<String> = fields.iter().map(|(f, t)| format!("  {{ left = {}, right = {}{} }},", q(f), q(f), t.map(|t| format!(", type = {}", q(t))).unwrap_or_default())).collect();
    let key = key.map(|k| format!("match_key = {{ left = {}, right = {} }}\n", q(k), q(k))).unwrap_or_default();
    format!(
        "[links.{name}]\nleft = {{ connection = \"cloud\", object = {dt} }}\nright = {{ connection = \"local\", object = {dt} }}\ndirection = \"two-way\"\n{key}conflict = \"{conflict}\"\ndeletes = \"ignore\"\ntriggers = {{ every_minutes = 15, on_webhook = true }}\nfields = [\n{}\n]\n",
        fields.join("\n"),
        dt = q(doctype)
    )
}

/// `key` is the name of the API key variable (the key itself goes to the keyring).
fn connection(name: &str, url: &str, key: &str, secret_var: &str, host: &str, port: u16) -> String {
    format!(
        "[connections.{name}]\nkind = \"frappe\"\nurl = {url}\n# API key and secret ({key_var}, {secret_var}) are in the OS keyring as `key:secret`\n# (`crosswalk login {name}`); on a server without a keyring set {env} to `key:secret`.\n# Client-side limit (the old script's best was 50 documents/s); a site over its own limit\n# answers 429 with Retry-After, which is honoured.\nrequests_per_minute = 3000\n# Documents written at once (Frappe takes one per request; this uses the site's workers).\nwrite_concurrency = 4\nchild_fields = {{ \"Sales Order.items\" = [\"item_code\", \"qty\", \"rate\", \"delivery_date\"], \"Purchase Order.items\" = [\"item_code\", \"qty\", \"rate\", \"schedule_date\"] }}\n# Webhooks from this site: POST http://{host}:{port}/webhooks/{name}, signed with WEBHOOK_SECRET;\n# `crosswalk webhook-setup {name} --url URL` makes the site's Webhook documents (URL: where the site reaches this listener).\nwebhook_host = {h}\nwebhook_port = {port}\nwebhook_secret_env = \"WEBHOOK_SECRET\"\n",
        url = q(url),
        key_var = key,
        env = crate::secrets::env_name(name),
        h = q(host)
    )
}

pub fn init(_config_path: &Path, v: &Values) -> Result<InitPlan, AppError> {
    let need = |var: &str, what: &str| v.get(var).ok_or_else(|| AppError::new(ErrorCode::BadInput, format!("{what} is missing: set {var} (or pass it in --env-file)")));
    let cloud_url = need("CLOUD_ERP_URL", "the cloud site's URL")?.trim_end_matches('/').trim_end_matches("/api").to_string();
    let local_url = need("LOCAL_ERP_URL", "the local site's URL")?.trim_end_matches('/').trim_end_matches("/api").to_string();
    let cloud_key = need("CLOUD_API_KEY", "the cloud site's API key")?;
    let local_key = need("LOCAL_API_KEY", "the local site's API key")?;
    let conflict = policy(&v.get("CONFLICT_RESOLUTION").unwrap_or_else(|| "manual".into()))?;
    let host = v.get("WEBHOOK_HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = match v.get("WEBHOOK_PORT") {
        Some(p) => p.parse().map_err(|_| AppError::new(ErrorCode::BadInput, format!("WEBHOOK_PORT {p:?} is not a port number")))?,
        None => 8765,
    };
    let mut text = String::from("# Crosswalk config written by `crosswalk init erpnext-erpnext`.\n# Cloud (left) and local (right) ERPNext sites, two-way per DocType. Secrets are in the OS\n# keyring, never here. Masters sync before the documents that link to them.\n\n");
    text += &connection("cloud", &cloud_url, "CLOUD_API_KEY", "CLOUD_API_SECRET", &host, port);
    text += "\n";
    text += &connection("local", &local_url, "LOCAL_API_KEY", "LOCAL_API_SECRET", &host, port);
    for spec in MASTERS {
        text += "\n";
        text += &link(spec, conflict);
    }
    text += "\n# Documents: their link fields (customer, supplier, items[].item_code) are translated\n# between the sites' names through the masters' pairs; a document whose customer or item\n# isn't synced yet waits for the master's link and says why.\n";
    for spec in DOCUMENTS {
        text += "\n";
        text += &link(spec, conflict);
    }
    let secret = |key: &str, var: &str| v.get(var).map(|s| crosswalk_core::Secret::new(format!("{key}:{s}")));
    Ok(InitPlan {
        config_text: text,
        secrets: vec![
            SecretNeed { connection: "cloud".into(), env_var: "CLOUD_API_SECRET".into(), prompt: "cloud site API secret (User → Settings → API Access)".into(), value: secret(&cloud_key, "CLOUD_API_SECRET") },
            SecretNeed { connection: "local".into(), env_var: "LOCAL_API_SECRET".into(), prompt: "local site API secret (User → Settings → API Access)".into(), value: secret(&local_key, "LOCAL_API_SECRET") },
            SecretNeed { connection: "cloud.webhook".into(), env_var: "WEBHOOK_SECRET".into(), prompt: "webhook secret (the Webhook documents' secret on both sites)".into(), value: v.get("WEBHOOK_SECRET").map(crosswalk_core::Secret::new) },
            SecretNeed { connection: "local.webhook".into(), env_var: "WEBHOOK_SECRET".into(), prompt: "webhook secret".into(), value: v.get("WEBHOOK_SECRET").map(crosswalk_core::Secret::new) },
        ],
        next_steps: vec![
            "crosswalk health            # check both sites' API keys".into(),
            "crosswalk sync --dry-run    # see what would be copied".into(),
            "crosswalk sync              # masters first, both ways".into(),
            "crosswalk webhook-setup cloud --url https://…   # and local: the sites' Webhook documents".into(),
            format!("crosswalk watch             # webhooks on {host}:{port} plus a sync every 15 minutes"),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_loads_validates_and_keeps_secrets_out() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("crosswalk.toml");
        let mut v = Values::default();
        for (k, val) in [("CLOUD_ERP_URL", "http://127.0.0.1:9/"), ("LOCAL_ERP_URL", "http://127.0.0.1:10"), ("CLOUD_API_KEY", "ck"), ("LOCAL_API_KEY", "lk"), ("CLOUD_API_SECRET", "cs"), ("LOCAL_API_SECRET", "ls"), ("WEBHOOK_SECRET", "ws"), ("CONFLICT_RESOLUTION", "manual")] {
            v.env_file.insert(k.into(), val.into());
        }
        let plan = init(&cfg, &v).unwrap();
        std::fs::write(&cfg, &plan.config_text).unwrap();
        let c = crosswalk_core::Config::load(&cfg).expect("the written config must parse");
        crate::App::validate(&c).expect("the written config must validate");
        assert_eq!(c.links["01_customer"].conflict, crosswalk_core::config::ConflictPolicy::Ask, "manual maps to ask");
        assert!(c.links.keys().next().is_some_and(|k| k == "01_customer"), "masters come first in name order");
        let names: Vec<&str> = c.links.keys().map(String::as_str).collect();
        assert_eq!(names, ["01_customer", "02_supplier", "03_item", "10_sales_order", "11_purchase_order"], "documents after their masters");
        assert!(plan.config_text.contains("requests_per_minute = 3000\n"), "50 requests/s per site, not the connector's cautious default of 5");
        assert!(!plan.config_text.contains("\"cs\"") && !plan.config_text.contains("\"ck\"") && !plan.config_text.contains("\"ws\""), "keys and secrets are not in the config");
        assert_eq!(plan.secrets[0].value.as_ref().map(|s| s.expose()), Some("ck:cs"), "the keyring holds key:secret");
    }
}
