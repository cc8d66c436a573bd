//! `zoho-zoho`: Zoho CRM org A → org B (+ WorkDrive), the old transfer script's job.
//!
//! Two `zoho` connections, `org_a` (the origin, with a `[connections.org_a.transfer]`
//! table) and `org_b` (with its WorkDrive team folder). Run with `crosswalk transfer`.
//! Secrets (client secrets, refresh tokens) go to the OS keyring; the config only names
//! the variables that may override them.

use std::path::Path;

use crosswalk_connectors::zoho::{data_centre, Credentials, DATA_CENTRES};
use crosswalk_core::Secret;

use super::{q, InitPlan, SecretNeed, Values};
use crate::error::{AppError, ErrorCode};

fn need(v: &Values, var: &str, what: &str) -> Result<String, AppError> {
    v.get(var).ok_or_else(|| AppError::new(ErrorCode::BadInput, format!("{var} is missing: {what}")))
}

fn connection(v: &Values, org: &str, region: &str, accounts: &Option<String>) -> Result<(String, SecretNeed, bool), AppError> {
    let up = org.to_uppercase();
    let client_id = need(v, &format!("ORG_{up}_CLIENT_ID"), &format!("org {up}'s Client ID from https://api-console.zoho.com"))?;
    let secret_var = format!("ORG_{up}_CLIENT_SECRET");
    let token_var = format!("ORG_{up}_REFRESH_TOKEN");
    let client_secret = need(v, &secret_var, &format!("org {up}'s Client Secret from the API console"))?;
    let refresh = v.get(&token_var);
    let signed_in = refresh.is_some();
    let creds = Credentials { client_secret: Some(Secret::new(client_secret)), refresh_token: refresh.map(Secret::new), accounts_server: None };
    let accounts_line = accounts.as_ref().map(|u| format!("accounts_url = {}\n", q(u))).unwrap_or_default();
    let text = format!(
        "[connections.org_{org}]\nkind = \"zoho\"\nregion = {}\n{accounts_line}client_id = {}\n# Override the keyring with these variables (e.g. on a server without one).\nclient_secret_env = {}\nrefresh_token_env = {}\n",
        q(region),
        q(&client_id),
        q(&secret_var),
        q(&token_var)
    );
    let need = SecretNeed {
        connection: format!("org_{org}"),
        env_var: format!("{secret_var} and {token_var}"),
        prompt: format!("org {up}'s client secret and refresh token"),
        value: Some(creds.to_secret()),
    };
    Ok((text, need, signed_in))
}

pub fn init(_config_path: &Path, v: &Values) -> Result<InitPlan, AppError> {
    let region = v.get("ZOHO_REGION").unwrap_or_else(|| "us".into());
    let accounts = v.get("ZOHO_ACCOUNTS_URL");
    if accounts.is_none() && data_centre(&region).is_none() {
        let codes: Vec<&str> = DATA_CENTRES.iter().map(|d| d.code).collect();
        return Err(AppError::new(ErrorCode::BadInput, format!("ZOHO_REGION {region:?} is not a Zoho data centre; use one of {} (or set ZOHO_ACCOUNTS_URL)", codes.join(", "))));
    }
    if let Some(u) = &accounts {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(AppError::new(ErrorCode::BadInput, format!("ZOHO_ACCOUNTS_URL {u:?} must be a URL such as https://accounts.zoho.eu")));
        }
    }
    let (a_text, a_need, a_in) = connection(v, "a", &region, &accounts)?;
    let (b_text, b_need, b_in) = connection(v, "b", &region, &accounts)?;
    let team = need(v, "ORG_B_TEAM_FOLDER_ID", "the id of org B's WorkDrive team folder that holds one folder per record")?;
    let module = v.get("CRM_MODULE_API_NAME").unwrap_or_else(|| "Deals".into());
    let checkbox = v.get("CRM_CHECKBOX_FIELD_API_NAME").unwrap_or_else(|| "Transfer_Complete".into());
    let name = v.get("CRM_RECORD_NAME_FIELD_API_NAME").unwrap_or_else(|| if module == "Deals" { "Deal_Name".into() } else { "Name".into() });
    let url_field = v.get("CRM_WORKDRIVE_URL_FIELD_API_NAME").unwrap_or_else(|| "WorkDrive_URL".into());
    let folder_field = v.get("CRM_WORKDRIVE_FOLDER_ID_FIELD_API_NAME").unwrap_or_else(|| "WorkDrive_Folder_ID".into());
    let origin = v.get("CRM_RECORD_UPDATED_FROM_FIELD_API_NAME").unwrap_or_else(|| "Record_Updated_From".into());
    let text = format!(
        r#"# Crosswalk config written by `crosswalk init zoho-zoho`.
# Zoho CRM org A → org B: records whose {checkbox} is false are matched in org B by
# {name}; their WorkDrive fields are copied and their attachments go to the WorkDrive
# folder of the same name in org B's team folder. Run it with `crosswalk transfer`.
# Client secrets and refresh tokens are in the OS keyring (`crosswalk login org_a`),
# never in this file.

{a_text}modules = [{m}]

[connections.org_a.transfer]
to = "org_b"
module = {m}
checkbox_field = {checkbox}
name_field = {name}
copy_fields = [{url_field}, {folder_field}]
origin_field = {origin}
# What goes into the origin field: {{record_id}}, {{record_name}}, {{connection}}.
origin_value = "{{record_id}}"

{b_text}modules = [{m}]
workdrive_team_folder_id = {team}
"#,
        m = q(&module),
        checkbox = q(&checkbox),
        name = q(&name),
        url_field = q(&url_field),
        folder_field = q(&folder_field),
        origin = q(&origin),
        team = q(&team),
    );
    let mut next_steps = vec![];
    for (conn, signed_in) in [("org_a", a_in), ("org_b", b_in)] {
        if !signed_in {
            next_steps.push(format!("crosswalk login {conn}        # sign in to Zoho in the browser (or --device / --grant-code CODE)"));
        }
    }
    next_steps.push("crosswalk health             # check both orgs".into());
    next_steps.push("crosswalk transfer --dry-run # what would be transferred, writing nothing".into());
    next_steps.push("crosswalk transfer           # copy fields and attachments, tick the checkbox in org A".into());
    Ok(InitPlan { config_text: text, secrets: vec![a_need, b_need], next_steps })
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn zoho_zoho_config_loads_validates_and_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("crosswalk.toml");
        let mut v = Values::default();
        for (k, val) in [
            ("ZOHO_REGION", "eu"),
            ("ORG_A_CLIENT_ID", "1000.A"),
            ("ORG_A_CLIENT_SECRET", "sec-a-123"),
            ("ORG_A_REFRESH_TOKEN", "1000.rt-a-456"),
            ("ORG_B_CLIENT_ID", "1000.B"),
            ("ORG_B_CLIENT_SECRET", "sec-b-789"),
            ("ORG_B_TEAM_FOLDER_ID", "team123"),
            ("CRM_MODULE_API_NAME", "Deals"),
            ("CRM_RECORD_NAME_FIELD_API_NAME", "Deal_Name"),
        ] {
            v.env_file.insert(k.into(), val.into());
        }
        let plan = init("zoho-zoho", &cfg, &v).unwrap();
        std::fs::write(&cfg, &plan.config_text).unwrap();
        let c = crosswalk_core::Config::load(&cfg).expect("the written config must parse");
        crate::App::validate(&c).expect("the written config must validate");
        for s in ["sec-a-123", "1000.rt-a-456", "sec-b-789"] {
            assert!(!plan.config_text.contains(s), "a secret ({s}) must not be in the config");
        }
        assert_eq!(c.connections["org_a"].settings["region"].as_str(), Some("eu"));
        let t = c.connections["org_a"].settings["transfer"].as_table().unwrap();
        assert_eq!(t["name_field"].as_str(), Some("Deal_Name"));
        assert_eq!(t["checkbox_field"].as_str(), Some("Transfer_Complete"), "the old script's default checkbox");
        let a = crosswalk_connectors::zoho::Credentials::parse(plan.secrets[0].value.as_ref().unwrap());
        assert_eq!((a.client_secret.unwrap().expose(), a.refresh_token.unwrap().expose()), ("sec-a-123", "1000.rt-a-456"), "org A's secrets go to its keyring entry");
        assert!(plan.next_steps.iter().any(|s| s.contains("login org_b")), "org B has no refresh token yet: sign in");
        v.env_file.insert("ZOHO_REGION".into(), "mars".into());
        assert!(init("zoho-zoho", &cfg, &v).unwrap_err().message.contains("mars"), "a wrong region is named");
    }
}
