use std::path::Path;

use super::*;

const KINDS: &[&str] = &["memory", "workbook", "twenty"];

const GOOD: &str = r#"
[connections.crm]
kind = "twenty"
url = "http://127.0.0.1:3000"

[connections.book]
kind = "workbook"
path = "crm.xlsx"

[links.companies]
left = { connection = "crm", object = "companies" }
right = { connection = "book", object = "Companies" }
conflict = "ask"
id_field = { side = "right", field = "id" }

[[links.companies.fields]]
left = "name"
right = "Name"

[[links.companies.fields]]
left = "employees"
right = "Employees"
type = "integer"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("links.toml"), text)
}

#[test]
fn good_config_loads_and_validates() {
    let c = parse(GOOD).expect("the sample config must parse");
    c.validate(KINDS).expect("the sample config must validate");
    let link = &c.links["companies"];
    assert_eq!(link.conflict, ConflictPolicy::Ask);
    assert_eq!(link.direction, Direction::TwoWay, "two-way is the default");
    assert_eq!(link.fields[1].field_type, Some(FieldType::Integer));
    assert_eq!(c.connections["crm"].settings["url"].as_str(), Some("http://127.0.0.1:3000"));
}

#[test]
fn malformed_toml_names_the_line() {
    let e = parse("[connections.crm]\nkind = \"twenty\"\nurl = \n").unwrap_err();
    assert_eq!(e.line, Some(3), "the broken line is 3: {e}");
    assert!(e.to_string().starts_with("links.toml:3:"), "{e}");
}

#[test]
fn unknown_key_names_line_and_key() {
    let text = GOOD.replace("conflict = \"ask\"", "conflikt = \"ask\"");
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("conflikt"), "{e}");
    assert_eq!(e.line, Some(GOOD.lines().position(|l| l.starts_with("conflict")).unwrap() + 1));
}

#[test]
fn unknown_kind_and_missing_connection_are_reported_with_lines() {
    let text = GOOD.replace("kind = \"workbook\"", "kind = \"excel\"").replace("connection = \"book\"", "connection = \"sheet\"");
    let c = parse(&text).unwrap();
    let errors = c.validate(KINDS).unwrap_err();
    let kind = errors.iter().find(|e| e.key == "connections.book.kind").expect("unknown kind reported");
    assert!(kind.message.contains("excel") && kind.message.contains("workbook"), "{kind}");
    assert_eq!(kind.line, Some(text.lines().position(|l| l.contains("\"excel\"")).unwrap() + 1));
    let conn = errors.iter().find(|e| e.key == "links.companies.right.connection").expect("missing connection reported");
    assert!(conn.message.contains("sheet"), "{conn}");
    assert!(conn.line.is_some(), "{conn}");
}

#[test]
fn field_errors_point_into_the_array_of_tables() {
    let text = GOOD.replace("right = \"Employees\"", "right = \"Name\"");
    let c = parse(&text).unwrap();
    let errors = c.validate(KINDS).unwrap_err();
    let e = errors.iter().find(|e| e.key == "links.companies.fields[1].right").expect("duplicate right field reported");
    let expected = text.lines().enumerate().filter(|(_, l)| l.contains("right = \"Name\"")).nth(1).unwrap().0 + 1;
    assert_eq!(e.line, Some(expected), "{e}");
}

#[test]
fn secrets_in_the_file_are_refused() {
    let text = GOOD.replace("url = \"http://127.0.0.1:3000\"", "url = \"http://x\"\napi_key = \"abc\"");
    let errors = parse(&text).unwrap().validate(KINDS).unwrap_err();
    assert!(errors.iter().any(|e| e.key == "connections.crm.api_key" && e.message.contains("keyring")));
}

#[test]
fn config_round_trips_through_toml() {
    let c = parse(GOOD).unwrap();
    let again = parse(&c.to_toml()).unwrap();
    assert_eq!(again.links, c.links);
    assert_eq!(again.connections, c.connections);
}

#[test]
fn mass_delete_brake_rules() {
    let b = MassDeleteBrake::default();
    assert!(!b.trips(2, 4), "tiny tables may lose a few rows");
    assert!(b.trips(51, 100_000), "more than max_count trips");
    assert!(b.trips(10, 20), "more than a quarter trips");
    assert!(!b.trips(10, 1000));
}

#[test]
fn a_manual_link_with_a_schedule_is_refused() {
    let text = GOOD.replace("conflict = \"ask\"", "conflict = \"ask\"\ntriggers = { manual = true, every_minutes = 5 }");
    let c = parse(&text).unwrap();
    assert!(c.links["companies"].triggers.manual);
    let errors = c.validate(KINDS).unwrap_err();
    let e = errors.iter().find(|e| e.key == "links.companies.triggers.every_minutes").expect("schedule on a manual link reported");
    assert!(e.message.contains("manual"), "{e}");
    let ok = parse(&GOOD.replace("conflict = \"ask\"", "conflict = \"ask\"\ntriggers = { manual = true }")).unwrap();
    ok.validate(KINDS).expect("a manual link without a schedule is fine");
}
