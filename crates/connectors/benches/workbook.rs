//! Workbook bench (filled below).
fn main() {}
