//! End to end through the `crosswalk` binary: the twenty-excel preset against the Twenty
//! simulator over real HTTP, with a real .xlsx workbook.

mod support;
mod iran;
mod wefact;
mod zoho;

use crosswalk_simulators::twenty::{TwentySim, TwentySimOptions};
use serde_json::json;
use support::*;

fn sim_opts(key: &str) -> TwentySimOptions {
    TwentySimOptions { api_key: key.into(), ..TwentySimOptions::default() }.unlimited()
}

fn init(w: &World, url: &str, strategy: &str) {
    let out = w.run_env(
        &["init", "twenty-excel", "--url", url, "--workbook", w.workbook().to_str().unwrap()],
        &[("CONFLICT_STRATEGY", strategy)],
    );
    assert!(out.status.success(), "init failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn company_named<'a>(rows: &'a [std::collections::BTreeMap<String, String>], name: &str) -> Option<&'a std::collections::BTreeMap<String, String>> {
    rows.iter().find(|r| r.get("name").map(String::as_str) == Some(name))
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_edit_sync_round_trip_with_thousands_of_records() {
    if !have_openpyxl() {
        eprintln!("skipped: needs python3 with openpyxl to edit the workbook like a user");
        return;
    }
    let sim = TwentySim::spawn(sim_opts("e2e-key")).await;
    sim.seed(1000, 2000);
    let w = World::new("e2e-key");
    init(&w, &sim.base_url, "newest_wins");
    let out = w.ok(&["pull"]);
    assert!(out.contains("1000 created") && out.contains("2000 created"), "pull reports its counts:\n{out}");
    let companies = sheet_rows(&w.workbook(), "Companies");
    let people = sheet_rows(&w.workbook(), "People");
    assert_eq!(companies.len(), 1000, "every company is a row");
    assert_eq!(people.len(), 2000, "every person is a row");
    assert!(people.iter().all(|p| !p["company"].is_empty() || p["company"].is_empty()), "people carry their company's name column");

    // Edit like a user: rename a company, change a person, add rows without ids.
    let renamed_id = companies[1]["id"].clone();
    edit_workbook(&w.workbook(), r#"
ws = wb['Companies']
ws['B3'] = 'Edited In Excel'
ws.append([None, 'New Co One', 'https://one.example.com', 5])
ws.append([None, 'New Co Two', None, 7])
wp = wb['People']
wp['F2'] = 'Chief Tester'
wp.append([None, 'Ada', 'Lovelace', 'ada@example.com', None, 'Engineer', 'London', 'New Co One'])
"#);
    let out = w.ok(&["sync"]);
    assert!(out.contains("crm: 2 created, 1 updated"), "companies: 2 new rows created, 1 rename pushed:\n{out}");
    let rec = sim.record("companies", &renamed_id).expect("the renamed company still exists");
    assert_eq!(rec["name"], json!("Edited In Excel"), "the CRM holds the workbook edit");
    assert_eq!(sim.count("companies"), 1002, "two new companies, no duplicates");
    assert_eq!(sim.count("people"), 2001);
    let companies = sheet_rows(&w.workbook(), "Companies");
    let one = company_named(&companies, "New Co One").expect("new row kept");
    assert_eq!(one["id"].len(), 36, "the new row got its CRM id written back: {one:?}");
    let ada = sim.records("people").into_iter().find(|p| p["emails"]["primaryEmail"] == json!("ada@example.com")).expect("Ada created");
    assert_eq!(ada["companyId"], json!(one["id"]), "the company name in the workbook was resolved to its id");

    // Edit in the CRM; the next sync brings it into the workbook.
    let other = companies.iter().find(|r| r["name"] != "Edited In Excel" && r["id"].len() == 36).unwrap()["id"].clone();
    sim.edit_as_user("companies", &other, json!({"name": "Changed In CRM"})).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    w.ok(&["sync"]);
    let companies = sheet_rows(&w.workbook(), "Companies");
    assert_eq!(company_named(&companies, "Changed In CRM").map(|r| r["id"].clone()), Some(other), "the workbook shows the CRM edit");

    // Quiet is quiet: two more syncs, the second makes zero API writes.
    w.ok(&["sync"]);
    sim.reset_counters();
    let before = std::fs::read(w.workbook()).unwrap();
    let out = w.ok(&["sync"]);
    assert_eq!(sim.counters().writes, 0, "a quiet sync makes zero API writes:\n{out}");
    assert_eq!(std::fs::read(w.workbook()).unwrap(), before, "and doesn't rewrite the workbook");
}

/// One conflict, every strategy: the same company renamed in the CRM and then in the workbook.
#[tokio::test(flavor = "multi_thread")]
async fn conflict_strategies() {
    if !have_openpyxl() {
        eprintln!("skipped: needs python3 with openpyxl");
        return;
    }
    for (strategy, expect_crm, expect_book) in [
        ("newest_wins", "Book Name", "Book Name"),
        ("crm_wins", "CRM Name", "CRM Name"),
        ("excel_wins", "Book Name", "Book Name"),
        ("ask", "CRM Name", "Book Name"),
    ] {
        let sim = TwentySim::spawn(sim_opts("k")).await;
        let ids = sim.seed(3, 0);
        let w = World::new("k");
        init(&w, &sim.base_url, strategy);
        w.ok(&["pull", "companies"]);
        let target = ids.companies[0].clone();
        sim.edit_as_user("companies", &target, json!({"name": "CRM Name"})).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let row = sheet_rows(&w.workbook(), "Companies").iter().position(|r| r["id"] == target).unwrap() + 2;
        edit_workbook(&w.workbook(), &format!("wb['Companies']['B{row}'] = 'Book Name'"));
        let out = w.run(&["sync", "companies"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{strategy}: sync succeeds:\n{text}");
        assert_eq!(sim.record("companies", &target).unwrap()["name"], json!(expect_crm), "{strategy}: CRM value\n{text}");
        let rows = sheet_rows(&w.workbook(), "Companies");
        let book = &rows.iter().find(|r| r["id"] == target).unwrap()["name"];
        assert_eq!(book, expect_book, "{strategy}: workbook value\n{text}");
        if strategy == "ask" {
            let list = w.ok(&["conflicts"]);
            assert!(list.contains("CRM Name") && list.contains("Book Name"), "conflicts shows both values:\n{list}");
            let id = list.split_whitespace().find(|t| t.starts_with('#')).unwrap().trim_start_matches('#').to_string();
            w.ok(&["conflicts", "--resolve", &id, "--take", "right"]);
            w.ok(&["sync", "companies"]);
            assert_eq!(sim.record("companies", &target).unwrap()["name"], json!("Book Name"), "the answer reaches the CRM");
            assert!(w.ok(&["conflicts"]).contains("no conflicts"), "and the conflict is settled");
        } else {
            let log = w.ok(&["log", "--run", &last_run_id(&w)]);
            assert!(log.contains("overwrite"), "{strategy}: the losing value is in the run log:\n{log}");
        }
    }
}

fn last_run_id(w: &World) -> String {
    let runs = w.ok(&["--json", "log", "--limit", "1"]);
    let v: serde_json::Value = serde_json::from_str(&runs).unwrap();
    v[0]["id"].to_string()
}

/// After the first sync, a sync of a 10,000-company workspace with 5 changes costs at most
/// 3 read requests.
#[tokio::test(flavor = "multi_thread")]
async fn incremental_sync_reads_little() {
    let sim = TwentySim::spawn(sim_opts("k")).await;
    let ids = sim.seed(10_000, 0);
    let w = World::new("k");
    init(&w, &sim.base_url, "newest_wins");
    w.ok(&["pull", "companies"]);
    w.ok(&["sync", "companies"]);
    for id in ids.companies.iter().take(5) {
        sim.edit_as_user("companies", id, json!({"employees": 987654321})).unwrap();
    }
    sim.reset_counters();
    let out = w.ok(&["sync", "companies"]);
    let c = sim.counters();
    assert!(c.reads <= 3, "{} read requests ({:?}) for 5 changes:\n{out}", c.reads, c.by_kind);
    let rows = sheet_rows(&w.workbook(), "Companies");
    assert_eq!(rows.iter().filter(|r| r["employees"] == "987654321").count(), 5, "all five changes arrived");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_and_unreachable_url_say_what_to_do() {
    let sim = TwentySim::spawn(sim_opts("right-key")).await;
    sim.seed(2, 0);
    let w = World::new("wrong-key");
    init(&w, &sim.base_url, "newest_wins");
    let out = w.run(&["sync", "companies"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("the API key for connection crm was rejected") && err.contains("Settings → APIs & Webhooks"), "{err}");
    assert!(!err.contains("wrong-key"), "the key itself never appears in output");

    let w = World::new("k");
    init(&w, "http://127.0.0.1:9", "newest_wins");
    let out = w.run(&["health", "crm"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("127.0.0.1:9"), "unreachable URL is named: {text}");
}

/// Bad config never runs anything and exits 2 naming file, line and key.
#[test]
fn bad_config_exits_2_with_file_line_and_key() {
    let w = World::new("k");
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed TOML", "[connections.crm\nkind = \"twenty\"\n".into(), "crosswalk.toml:1"),
        ("unknown kind", "[connections.crm]\nkind = \"salesforce\"\n\n[connections.book]\nkind = \"workbook\"\npath = \"x.xlsx\"\n\n[links.l]\nleft = { connection = \"crm\", object = \"a\" }\nright = { connection = \"book\", object = \"b\" }\nfields = [{ left = \"x\", right = \"y\" }]\n".into(), "crosswalk.toml:2: connections.crm.kind"),
        ("missing connection", "[connections.book]\nkind = \"workbook\"\npath = \"x.xlsx\"\n\n[links.l]\nleft = { connection = \"crm\", object = \"a\" }\nright = { connection = \"book\", object = \"b\" }\nfields = [{ left = \"x\", right = \"y\" }]\n".into(), "crosswalk.toml:6: links.l.left.connection"),
    ];
    for (what, text, expect) in cases {
        std::fs::write(w.config(), text).unwrap();
        let out = w.run(&["sync"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: exit code 2\n{err}");
        assert!(err.contains(expect), "{what}: message names {expect:?}:\n{err}");
        assert!(!w.workbook().exists(), "{what}: nothing ran");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mapping_to_a_missing_field_exits_2() {
    let sim = TwentySim::spawn(sim_opts("k")).await;
    let w = World::new("k");
    init(&w, &sim.base_url, "newest_wins");
    let text = std::fs::read_to_string(w.config()).unwrap().replacen("{ left = \"name\", right = \"name\" }", "{ left = \"nmae\", right = \"name\" }", 1);
    std::fs::write(w.config(), &text).unwrap();
    let out = w.run(&["sync", "companies"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = text.lines().position(|l| l.contains("nmae")).unwrap() + 1;
    assert!(err.contains(&format!("crosswalk.toml:{line}:")) && err.contains("nmae"), "names the line and field:\n{err}");
    assert_eq!(sim.counters().writes, 0);
}

/// The API key never lands in the config, the state database, the workbook or the logs.
#[tokio::test(flavor = "multi_thread")]
async fn secret_never_lands_in_files_or_logs() {
    let key = "sekrit-KEY-7f3a9c";
    let sim = TwentySim::spawn(sim_opts(key)).await;
    sim.seed(5, 5);
    let w = World::new(key);
    init(&w, &sim.base_url, "newest_wins");
    let mut logs = String::new();
    for args in [&["-vv", "pull"][..], &["-vv", "sync"][..], &["-vv", "health"][..]] {
        let out = w.run(args);
        assert!(out.status.success(), "{args:?}");
        logs.push_str(&String::from_utf8_lossy(&out.stdout));
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(logs.contains("DEBUG") || logs.contains("INFO"), "debug logging was on");
    assert!(!logs.contains(key), "the key appears in the output or logs");
    let mut checked = 0;
    let mut stack = vec![w.dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            checked += 1;
            assert!(!bytes.windows(key.len()).any(|win| win == key.as_bytes()), "the key was found in {}", p.display());
        }
    }
    assert!(checked >= 3, "config, workbook and state database were searched ({checked} files)");
}
