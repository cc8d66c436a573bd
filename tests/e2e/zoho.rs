//! zoho-zoho end to end through the `crosswalk` binary against the Zoho simulator:
//! `crosswalk init zoho-zoho --env-file` then `crosswalk transfer`, with an access token
//! expiring mid-run, a 429, a failing attachment, a name collision in a folder, a record
//! with no folder, a dry run that writes nothing, and secrets that stay out of every file
//! and log.

use std::path::PathBuf;

use crosswalk_simulators::{ZohoSim, ZohoSimHandle, ZohoSimOptions};
use serde_json::json;

use crate::support::*;

const MODULE: &str = "Deals";

/// The preset's `.env` for the simulator, written outside the world's folder (it holds
/// secrets, like a user's own .env).
fn env_file(sim: &ZohoSimHandle, dir: &tempfile::TempDir) -> PathBuf {
    let (a, b) = (sim.client("a"), sim.client("b"));
    let text = format!(
        "ZOHO_REGION=us\nZOHO_ACCOUNTS_URL={}\nORG_A_CLIENT_ID={}\nORG_A_CLIENT_SECRET={}\nORG_A_REFRESH_TOKEN={}\nORG_B_CLIENT_ID={}\nORG_B_CLIENT_SECRET={}\nORG_B_REFRESH_TOKEN={}\nORG_B_TEAM_FOLDER_ID={}\nCRM_MODULE_API_NAME=Deals\nCRM_CHECKBOX_FIELD_API_NAME=Transfer_Complete\nCRM_RECORD_NAME_FIELD_API_NAME=Deal_Name\nCRM_WORKDRIVE_URL_FIELD_API_NAME=WorkDrive_URL\nCRM_WORKDRIVE_FOLDER_ID_FIELD_API_NAME=WorkDrive_Folder_ID\nCRM_RECORD_UPDATED_FROM_FIELD_API_NAME=Record_Updated_From\n",
        sim.base_url, a.client_id, a.client_secret, a.refresh_token, b.client_id, b.client_secret, b.refresh_token, sim.team_folder("b")
    );
    let p = dir.path().join(".env");
    std::fs::write(&p, text).unwrap();
    p
}

/// The secrets as the environment of a server without a keyring.
fn secret_env(sim: &ZohoSimHandle) -> Vec<(String, String)> {
    let (a, b) = (sim.client("a"), sim.client("b"));
    vec![
        ("ORG_A_CLIENT_SECRET".into(), a.client_secret),
        ("ORG_A_REFRESH_TOKEN".into(), a.refresh_token),
        ("ORG_B_CLIENT_SECRET".into(), b.client_secret),
        ("ORG_B_REFRESH_TOKEN".into(), b.refresh_token),
    ]
}

struct Z {
    w: World,
    env: Vec<(String, String)>,
    _envdir: tempfile::TempDir,
}

impl Z {
    async fn new(sim: &ZohoSimHandle) -> Z {
        let w = World::new("unused");
        let envdir = tempfile::tempdir().unwrap();
        let f = env_file(sim, &envdir);
        let z = Z { w, env: secret_env(sim), _envdir: envdir };
        let out = z.run(&["init", "zoho-zoho", "--env-file", f.to_str().unwrap()]);
        assert!(out.0 == Some(0), "init succeeds:\n{}{}", out.1, out.2);
        z
    }
    /// (exit code, stdout, stderr)
    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = self.w.run_env(args, &env);
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn line_for<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines().find(|l| l.contains(&format!("{name:?}"))).unwrap_or_else(|| panic!("no line for {name}:\n{out}"))
}

fn checkbox(sim: &ZohoSimHandle, id: &str) -> serde_json::Value {
    sim.record("a", MODULE, id).unwrap()["Transfer_Complete"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn transfer_survives_token_expiry_429_and_failing_attachment() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let team = sim.team_folder("b");
    // Alpha: two attachments, one name already taken in its folder; two B records match
    // (different case), the newer must be chosen.
    let alpha = sim.insert("a", MODULE, json!({"Deal_Name": "Alpha", "Transfer_Complete": false, "WorkDrive_URL": "https://wd/alpha", "WorkDrive_Folder_ID": "A-1"}));
    sim.add_attachment("a", &alpha, "contract.pdf", b"new contract");
    sim.add_attachment("a", &alpha, "photo.jpg", b"jpeg");
    let b_alpha_old = sim.insert("b", MODULE, json!({"Deal_Name": "alpha", "Modified_Time": "2020-01-01T10:00:00+05:30"}));
    let b_alpha_new = sim.insert("b", MODULE, json!({"Deal_Name": "ALPHA", "Modified_Time": "2024-01-01T10:00:00+05:30"}));
    let f_alpha = sim.add_folder("b", &team, "Alpha");
    sim.add_file("b", &f_alpha, "contract.pdf", b"old contract");
    // Beta: one of two attachments cannot be downloaded.
    let beta = sim.insert("a", MODULE, json!({"Deal_Name": "Beta", "Transfer_Complete": false, "WorkDrive_URL": "https://wd/beta"}));
    sim.add_attachment("a", &beta, "good.txt", b"good");
    let bad = sim.add_attachment("a", &beta, "bad.txt", b"bad");
    sim.fail_download(&bad);
    sim.insert("b", MODULE, json!({"Deal_Name": "Beta"}));
    let f_beta = sim.add_folder("b", &team, "beta");
    // Gamma: no folder in B.
    let gamma = sim.insert("a", MODULE, json!({"Deal_Name": "Gamma", "Transfer_Complete": false}));
    sim.add_attachment("a", &gamma, "g.txt", b"g");
    sim.insert("b", MODULE, json!({"Deal_Name": "Gamma"}));
    // Epsilon: only "Epsilon Inc" in B (Zoho's search matches it; we must not).
    let eps = sim.insert("a", MODULE, json!({"Deal_Name": "Epsilon", "Transfer_Complete": false}));
    let b_eps = sim.insert("b", MODULE, json!({"Deal_Name": "Epsilon Inc"}));
    sim.add_folder("b", &team, "Epsilon");
    // Not candidates: already done, or no name.
    let done = sim.insert("a", MODULE, json!({"Deal_Name": "Delta", "Transfer_Complete": true}));
    sim.insert("a", MODULE, json!({"Deal_Name": "", "Transfer_Complete": false}));

    let z = Z::new(&sim).await;
    sim.rate_limit_next(1);
    sim.expire_tokens_after(6);
    let (code, out, err) = z.run(&["transfer"]);
    assert_eq!(code, Some(1), "a skipped and a failed record: exit 1\n{out}\n{err}");

    // A line per record.
    assert!(line_for(&out, "Alpha").starts_with("done"), "{out}");
    let beta_line = line_for(&out, "Beta");
    assert!(beta_line.starts_with("failed") && beta_line.contains("bad.txt"), "the failing attachment is named: {beta_line}");
    let gamma_line = line_for(&out, "Gamma");
    assert!(gamma_line.starts_with("skipped") && gamma_line.contains("no WorkDrive folder"), "{gamma_line}");
    let eps_line = line_for(&out, "Epsilon");
    assert!(eps_line.starts_with("skipped") && eps_line.contains("no Deals record named"), "'Epsilon Inc' is not 'Epsilon': {eps_line}");
    assert!(!out.contains("\"Delta\""), "a record whose checkbox is ticked is not a candidate:\n{out}");
    assert!(out.contains("API credits: org_a ") && out.contains("org_b "), "the summary reports credits per org:\n{out}");

    // Alpha: the newer B record got the fields and the origin; a taken name got a stamp.
    let newer = sim.record("b", MODULE, &b_alpha_new).unwrap();
    assert_eq!((newer["WorkDrive_URL"].clone(), newer["WorkDrive_Folder_ID"].clone(), newer["Record_Updated_From"].clone()), (json!("https://wd/alpha"), json!("A-1"), json!(alpha)), "fields copied and origin marked on the most recently modified match");
    assert!(sim.record("b", MODULE, &b_alpha_old).unwrap().get("WorkDrive_URL").is_none(), "the older match is untouched");
    let files = sim.files_in("b", &f_alpha);
    assert_eq!(files.len(), 3, "old contract kept, new contract and photo added: {files:?}");
    assert!(files.iter().any(|(n, b)| n == "contract.pdf" && b == b"old contract"), "the existing file was not overwritten");
    let stamped = files.iter().find(|(n, _)| n.starts_with("contract_") && n.ends_with(".pdf")).expect("the colliding upload got a timestamped name");
    assert_eq!(stamped.0.len(), "contract_YYYYMMDD_HHMMSS.pdf".len(), "name_YYYYMMDD_HHMMSS.ext: {}", stamped.0);
    assert_eq!(stamped.1, b"new contract");
    assert_eq!(checkbox(&sim, &alpha), json!(true), "Alpha is ticked in A");

    // Beta: the good attachment went, the bad one did not; at least one upload → ticked.
    assert_eq!(sim.files_in("b", &f_beta).into_iter().map(|f| f.0).collect::<Vec<_>>(), vec!["good.txt".to_string()], "one failing attachment did not stop the other");
    assert_eq!(checkbox(&sim, &beta), json!(true), "Beta had one upload, so it is ticked");
    // Gamma, Epsilon: skipped, never ticked; no folder created.
    assert_eq!(checkbox(&sim, &gamma), json!(false), "no folder: not ticked");
    assert_eq!(checkbox(&sim, &eps), json!(false));
    assert!(sim.record("b", MODULE, &b_eps).unwrap().get("Record_Updated_From").is_none(), "'Epsilon Inc' was not touched");
    assert_eq!(checkbox(&sim, &done), json!(true));
    assert!(!sim.requests().iter().any(|r| r.method == "POST" && r.path.contains("/files") && !r.path.ends_with("/upload")), "no folder was created");

    // The faults really happened and were handled.
    let c = sim.counters();
    assert_eq!(c.rate_limited, 1, "one 429 was answered and waited out");
    assert!(c.unauthorized >= 1, "an access token expired mid-run");
    assert_eq!(c.unauthorized, 2, "every token expired at once: one 401 per org: {c:?}");
    assert_eq!(c.refreshes(), 4, "one token per org, plus exactly one refresh per org after the expiry, never one per request: {c:?}");
    assert_eq!(c.secret_leaks, 0, "no API call carried a client secret or refresh token");

    // The run is in the run log.
    let (_, log, _) = z.run(&["log"]);
    assert!(log.contains("transfer:org_a") && log.contains("[partial]") && log.contains("2 skipped, 1 failed"), "the run log has the transfer run and its counts:\n{log}");

    // Again: Alpha and Beta are done now; nothing is uploaded twice.
    sim.clear_requests();
    let (code, out, _) = z.run(&["transfer"]);
    assert_eq!(code, Some(1), "Gamma and Epsilon are still skipped");
    assert!(!out.contains("\"Alpha\"") && !out.contains("\"Beta\""), "ticked records are not transferred again:\n{out}");
    assert!(!sim.requests().iter().any(|r| r.path.ends_with("/upload")), "nothing was uploaded again");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_writes_nothing_and_flags_narrow_the_run() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    sim.seed_transfer(MODULE, 12);
    let z = Z::new(&sim).await;
    sim.clear_requests();
    let (code, out, err) = z.run(&["transfer", "--dry-run"]);
    assert_eq!(code, Some(1), "Project 0009 has no folder: skipped, so not every record would succeed\n{out}{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("would transfer")).count(), 11, "11 of 12 would go:\n{out}");
    assert!(line_for(&out, "Project 0009").starts_with("skipped"), "{out}");
    assert!(out.contains("dry run (nothing written)"), "{out}");
    let reqs = sim.requests();
    assert!(!reqs.is_empty(), "the dry run did read");
    let writes: Vec<_> = reqs.iter().filter(|r| r.is_write()).collect();
    assert!(writes.is_empty(), "a dry run makes no write request: {writes:?}");
    assert!(!reqs.iter().any(|r| r.path.contains("/Attachments/")), "a dry run downloads no attachment");
    assert!(sim.records("a", MODULE).iter().all(|r| r["Transfer_Complete"] == json!(false)), "no checkbox ticked");

    // --limit and --record-id.
    let (_, out, _) = z.run(&["transfer", "--dry-run", "--limit", "2"]);
    assert_eq!(out.lines().filter(|l| l.starts_with("would transfer") || l.starts_with("skipped")).count(), 2, "--limit 2 looks at two records:\n{out}");
    let id = sim.records("a", MODULE).into_iter().find(|r| r["Deal_Name"] == json!("Project 0003")).unwrap()["id"].as_str().unwrap().to_string();
    let (code, out, _) = z.run(&["transfer", "--record-id", &id]);
    assert_eq!(code, Some(0), "one record, fully done:\n{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("done")).count(), 1, "only that record:\n{out}");
    assert_eq!(checkbox(&sim, &id), json!(true));
}

/// The client secrets and refresh tokens appear nowhere but the keyring (here: the
/// environment, as on a server without one) and the token request.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_config_database_and_logs() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    sim.seed_transfer(MODULE, 3);
    let z = Z::new(&sim).await;
    sim.expire_tokens_after(4);
    let mut logs = String::new();
    for args in [&["-vv", "health"][..], &["-vv", "transfer"][..], &["-vv", "transfer", "--dry-run"][..], &["log"][..], &["--json", "log"][..]] {
        let (code, out, err) = z.run(args);
        assert!(code.is_some(), "{args:?} ran");
        logs.push_str(&out);
        logs.push_str(&err);
    }
    assert!(logs.contains("DEBUG"), "debug logging was on");
    assert!(logs.contains("Sim Admin a"), "health reached org A");
    let secrets: Vec<String> = z.env.iter().map(|(_, v)| v.clone()).collect();
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret appears in the output or logs");
    }
    let mut checked = 0;
    let mut stack = vec![z.w.dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            checked += 1;
            for s in &secrets {
                assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "a secret was found in {}", p.display());
            }
        }
    }
    assert!(checked >= 2, "the config and the state database were searched ({checked} files)");
    let c = sim.counters();
    assert!(c.token_requests_with_secret >= 3, "the secrets did reach the token requests (both orgs, and a refresh after the expiry): {c:?}");
    assert_eq!(c.secret_leaks, 0, "and no other request carried them");
}

/// `crosswalk login` for a zoho connection: the PKCE loopback sign-in through the binary
/// (the test plays the browser), and a Self-client grant code. With a keyring
/// (CROSSWALK_KEYRING_TESTS=1, as in CI) the refresh token lands there and `health` works
/// without any variable; without one the exchange still happens and the error says where
/// the token could not be stored — never the token itself.
#[tokio::test(flavor = "multi_thread")]
async fn login_signs_in_with_pkce_in_the_browser_and_with_a_grant_code() {
    use std::io::BufRead;
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let z = Z::new(&sim).await;
    let keyring = std::env::var("CROSSWALK_KEYRING_TESTS").as_deref() == Ok("1");
    let (a, b) = (sim.client("a"), sim.client("b"));
    // A loopback redirect on any free port (a real client registers a fixed one), and a
    // connection name of its own so a real keyring entry never collides.
    let conn = format!("zoho_e2e_{}", std::process::id());
    let text = std::fs::read_to_string(z.w.config())
        .unwrap()
        .replacen(&format!("client_id = \"{}\"\n", a.client_id), &format!("client_id = \"{}\"\nredirect_uri = \"http://127.0.0.1:0/callback\"\n", a.client_id), 1)
        .replace("org_a", &conn)
        .replace("org_b", &format!("{conn}_b"));
    std::fs::write(z.w.config(), text).unwrap();
    let command = |args: &[&str]| {
        let mut c = std::process::Command::new(bin());
        c.arg("--config").arg(z.w.config()).args(args);
        c.env("CROSSWALK_HOME", z.w.dir.path().join("home")).env("ORG_A_CLIENT_SECRET", &a.client_secret).env("ORG_B_CLIENT_SECRET", &b.client_secret).env("ORG_B_REFRESH_TOKEN", &b.refresh_token);
        c.env_remove("ORG_A_REFRESH_TOKEN").env_remove("CROSSWALK_CONFIG");
        if !keyring {
            c.env("CROSSWALK_NO_KEYRING", "1");
        }
        c
    };

    // 1. Browser sign-in: read the URL the CLI prints, "open" it, let Zoho redirect back.
    let mut child = command(&["login", &conn, "--no-browser", "--timeout", "60"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut printed = vec![];
    let url = loop {
        let l = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the CLI prints the sign-in URL");
        printed.push(l.clone());
        if l.trim_start().starts_with("http") && l.contains("/oauth/v2/auth") {
            break l.trim().to_string();
        }
    };
    assert!(url.contains("code_challenge_method=S256") && url.contains("access_type=offline"), "PKCE and offline access are asked for: {url}");
    let page = reqwest::get(&url).await.expect("the browser follows Zoho's redirect to the loopback listener");
    assert_eq!(page.status().as_u16(), 200, "the browser is told it may close the window");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    printed.extend(rx.try_iter());
    let text = printed.join("\n") + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(sim.counters().pkce_verified, 1, "the code was exchanged with the verifier matching the challenge:\n{text}");
    assert!(!text.contains(&a.refresh_token) && !text.contains(&a.client_secret), "no secret is printed");
    if keyring {
        assert!(out.status.success(), "signed in:\n{text}");
        let h = command(&["health", &conn]).output().unwrap();
        assert!(h.status.success() && String::from_utf8_lossy(&h.stdout).contains("Sim Admin a"), "the stored refresh token works without any variable: {}", String::from_utf8_lossy(&h.stdout));
        // Access tokens are kept in the keyring between runs: a second run mints none.
        sim.seed_transfer(MODULE, 2);
        let t1 = command(&["transfer", "--dry-run"]).output().unwrap();
        assert!(t1.status.code().is_some(), "{}", String::from_utf8_lossy(&t1.stderr));
        let after_first = sim.counters().refreshes();
        let t2 = command(&["transfer", "--dry-run"]).output().unwrap();
        assert!(String::from_utf8_lossy(&t2.stdout).contains("would transfer"), "{}", String::from_utf8_lossy(&t2.stdout));
        assert_eq!(sim.counters().refreshes(), after_first, "the second run reused both orgs' access tokens from the keyring");
    } else {
        assert_eq!(out.status.code(), Some(1), "without a keyring the token cannot be kept:\n{text}");
        assert!(text.contains("keyring"), "and the error says so:\n{text}");
    }

    // 2. A Self-client grant code (made in the API console; here by the simulator).
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.get(format!("{}/oauth/v2/auth?response_type=code&client_id={}&scope=ZohoCRM.modules.ALL&redirect_uri=https://example.com/self", sim.base_url, a.client_id)).send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let code = reqwest::Url::parse(&loc).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.to_string();
    let before = sim.counters().tokens_issued.get("authorization_code").copied().unwrap_or(0);
    let out = command(&["login", &conn, "--grant-code", &code]).output().unwrap();
    assert_eq!(sim.counters().tokens_issued.get("authorization_code").copied().unwrap_or(0), before + 1, "the grant code was exchanged: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.success(), keyring, "stored when there is a keyring: {}", String::from_utf8_lossy(&out.stderr));
    if keyring {
        let _ = command(&["logout", &conn]).output();
        let _ = command(&["logout", &format!("{conn}_b")]).output();
    }
}
