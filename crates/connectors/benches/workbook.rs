//! Workbook bench: read 100,000 rows × 20 columns, and write back 100 changed cells into
//! that workbook; the same two jobs with Python openpyxl (load; load + save) when it is
//! installed. Prints times and ratios. Run: `cargo bench -p crosswalk-connectors --bench workbook`.
//! Targets: read < 2 s, write-back < 3 s, ≥ 10× faster than openpyxl.

use std::time::Instant;

use crosswalk_connectors::{workbook, BuildContext};
use crosswalk_core::{Fields, ListRequest, RecordPatch, Value};

const ROWS: u32 = 100_000;
const COLS: u16 = 20;

fn make(path: &std::path::Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Data").unwrap();
    for c in 0..COLS {
        ws.write_string(0, c, format!("col{c}")).unwrap();
    }
    for r in 1..=ROWS {
        for c in 0..COLS {
            if c % 2 == 0 {
                ws.write_string(r, c, format!("text {r}-{c}")).unwrap();
            } else {
                ws.write_number(r, c, r as f64 * 1.25 + c as f64).unwrap();
            }
        }
    }
    wb.save(path).unwrap();
}

const PY: &str = r#"
import sys, time, openpyxl
p = sys.argv[1]
t = time.perf_counter(); wb = openpyxl.load_workbook(p); ws = wb["Data"]; rows = sum(1 for _ in ws.iter_rows(values_only=True)); read = time.perf_counter() - t
t = time.perf_counter(); wb = openpyxl.load_workbook(p); ws = wb["Data"]
for i in range(100): ws.cell(row=2 + i * 997, column=2).value = i
wb.save(p + ".openpyxl.xlsx"); write = time.perf_counter() - t
print(f"{read} {write} {rows}")
"#;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Bench.xlsx");
    let t = Instant::now();
    make(&path);
    let size = std::fs::metadata(&path).unwrap().len();
    println!("made {ROWS} rows x {COLS} columns ({:.1} MB) in {:.2} s", size as f64 / 1e6, t.elapsed().as_secs_f64());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let settings: toml::Table = toml::from_str("path = \"Bench.xlsx\"").unwrap();
    let ctx = BuildContext { base_dir: dir.path().into(), data_dir: dir.path().join("data"), secret: None };
    let (read, keys, write) = rt.block_on(async {
        let c = workbook::build("bench", &settings, &ctx).unwrap();
        let req = || ListRequest { object: "Data".into(), ..Default::default() };
        let t = Instant::now();
        let recs = c.list(req()).await.unwrap().records;
        let read = t.elapsed().as_secs_f64();
        assert_eq!(recs.len(), ROWS as usize, "every row read");
        // The first flush stores 100,000 row keys (a one-off when a workbook is first linked).
        let t = Instant::now();
        c.flush().await.unwrap();
        let keys = t.elapsed().as_secs_f64();
        // The job measured: a fresh connection reads the workbook, changes 100 cells, flushes.
        let c = workbook::build("bench", &settings, &ctx).unwrap();
        let recs = c.list(req()).await.unwrap().records;
        let t = Instant::now();
        let patches: Vec<RecordPatch> = (0..100).map(|i| RecordPatch { id: recs[i * 997].id.clone(), fields: Fields::from([("col1".to_string(), Value::Int(i as i64))]) }).collect();
        let res = c.update("Data", patches).await.unwrap();
        assert!(res.iter().all(Result::is_ok));
        c.flush().await.unwrap();
        let write = t.elapsed().as_secs_f64();
        let check = c.list(req()).await.unwrap().records;
        assert_eq!(check[997].get("col1"), &Value::Int(1), "the write-back landed");
        (read, keys, write)
    });
    println!("crosswalk  read {ROWS}x{COLS}:            {read:.3} s   (target < 2 s)");
    println!("crosswalk  first flush (store row keys): {keys:.3} s   (one-off)");
    println!("crosswalk  write back 100 cells:         {write:.3} s   (target < 3 s)");
    if std::env::var("CROSSWALK_BENCH_NO_PYTHON").is_ok() {
        return;
    }
    let py = std::process::Command::new("python3").args(["-c", PY]).arg(&path).output();
    match py {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout);
            let v: Vec<f64> = s.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            println!("openpyxl   read (load):                  {:.3} s", v[0]);
            println!("openpyxl   write back (load + save):     {:.3} s", v[1]);
            println!("ratio      read {:.1}x faster, write-back {:.1}x faster (target >= 10x)", v[0] / read, v[1] / write);
        }
        _ => println!("openpyxl   SKIPPED: python3 -c 'import openpyxl' failed"),
    }
}
