//! Solar Hijri (Jalali, the Iranian civil calendar) ↔ Gregorian dates, and Persian /
//! Arabic-Indic digits ↔ ASCII, for the Iranian connectors (Siagh, Payamgostar).
//!
//! The calendar is the arithmetic one used by Iran's official calendar for 1178–3177 AP:
//! Borkowski's leap-year "break" table (the algorithm of the widely used `jalaali-js`),
//! which agrees with the astronomical calendar in that range. Implemented here (about 60
//! lines, checked against known dates and a round trip of every day 1300–1500) rather than
//! pulling in a calendar crate: the maintained option (`icu_calendar`) is heavy and no
//! small crate was vetted offline. Invariant: `to_gregorian(to_jalali(d)) == d` for every
//! Gregorian date in range.

use chrono::{Datelike, NaiveDate};

/// A Solar Hijri date (`year` e.g. 1404, `month` 1–12, `day` 1–31).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct JalaliDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

/// Years of the break table; valid Jalali years are `BREAKS[0]..BREAKS[last]`.
const BREAKS: [i32; 20] = [-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178];

/// The day of March (Gregorian year `jy + 621`) on which Farvardin 1 of `jy` falls.
fn march_day(jy: i32) -> Option<i32> {
    if jy < BREAKS[0] || jy >= BREAKS[BREAKS.len() - 1] {
        return None;
    }
    let gy = jy + 621;
    let mut leap_j = -14;
    let mut jp = BREAKS[0];
    for &jm in &BREAKS[1..] {
        let jump = jm - jp;
        if jy < jm {
            break;
        }
        leap_j += jump / 33 * 8 + (jump % 33) / 4;
        jp = jm;
    }
    let n = jy - jp;
    leap_j += n / 33 * 8 + ((n % 33) + 3) / 4;
    // The table's one irregular case: a 4-year tail before a break.
    let next = BREAKS.iter().copied().find(|&b| b > jy).unwrap_or(jp);
    let jump = next - jp;
    if jump % 33 == 4 && jump - n == 4 {
        leap_j += 1;
    }
    let leap_g = gy / 4 - (gy / 100 + 1) * 3 / 4 - 150;
    Some(20 + leap_j - leap_g)
}

/// Farvardin 1 of `jy` as a Gregorian date.
fn new_year(jy: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(jy + 621, 3, 1)?.checked_add_days(chrono::Days::new(march_day(jy)? as u64 - 1))
}

/// Whether `jy` has 366 days (Esfand has 30).
pub fn is_leap_year(jy: i32) -> bool {
    match (new_year(jy), new_year(jy + 1)) {
        (Some(a), Some(b)) => (b - a).num_days() == 366,
        _ => false,
    }
}

/// Days in a Jalali month: 31 for 1–6, 30 for 7–11, 29/30 for Esfand.
pub fn month_length(jy: i32, month: u32) -> u32 {
    match month {
        1..=6 => 31,
        7..=11 => 30,
        12 if is_leap_year(jy) => 30,
        _ => 29,
    }
}

impl JalaliDate {
    /// A checked date; `None` when the day does not exist (Esfand 30 of a common year).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > month_length(year, month) || march_day(year).is_none() {
            return None;
        }
        Some(JalaliDate { year, month, day })
    }

    /// The Gregorian date of this day.
    pub fn to_gregorian(self) -> Option<NaiveDate> {
        let m = self.month as i64;
        let offset = (m - 1) * 31 - (m / 7) * (m - 7) + self.day as i64 - 1;
        new_year(self.year)?.checked_add_days(chrono::Days::new(offset as u64))
    }

    /// The Jalali date of a Gregorian day (`None` outside 1178–3177 AP).
    pub fn from_gregorian(d: NaiveDate) -> Option<Self> {
        let mut jy = d.year() - 621;
        let mut start = new_year(jy)?;
        if d < start {
            jy -= 1;
            start = new_year(jy)?;
        }
        let k = (d - start).num_days() as u32;
        let (month, day) = if k <= 185 { (1 + k / 31, k % 31 + 1) } else { (7 + (k - 186) / 30, (k - 186) % 30 + 1) };
        Some(JalaliDate { year: jy, month, day })
    }

    /// Parses `1404/09/04`, `1404-9-4` or the same in Persian/Arabic-Indic digits.
    pub fn parse(s: &str) -> Option<Self> {
        let ascii = to_ascii_digits(s.trim());
        let parts: Vec<&str> = ascii.split(['/', '-', '.']).map(str::trim).collect();
        if parts.len() != 3 {
            return None;
        }
        let year: i32 = parts[0].parse().ok()?;
        JalaliDate::new(year, parts[1].parse().ok()?, parts[2].parse().ok()?)
    }

    /// `1404/09/04` (the form Siagh shows and takes), ASCII digits.
    pub fn format_slash(self) -> String {
        format!("{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

impl std::fmt::Display for JalaliDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format_slash())
    }
}

/// Replaces Persian (`۰`–`۹`) and Arabic-Indic (`٠`–`٩`) digits with ASCII ones, the
/// Arabic decimal separator `٫` with `.` and the thousands separator `٬` with `,`.
pub fn to_ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{066B}' => '.',
            '\u{066C}' => ',',
            c => c,
        })
        .collect()
}

/// Replaces ASCII digits with Persian ones (`۰`–`۹`), for display.
pub fn to_persian_digits(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { char::from_u32(0x06F0 + (c as u32 - '0' as u32)).unwrap_or(c) } else { c }).collect()
}

/// A number written with any digits and separators (`۱۲٬۳۴۵٫۵`, `12,345.5`) as ASCII
/// text a decimal parser takes (`12345.5`); `None` when it is not a number.
pub fn normalize_number(s: &str) -> Option<String> {
    let t: String = to_ascii_digits(s.trim()).chars().filter(|c| *c != ',' && !c.is_whitespace()).collect();
    let body = t.strip_prefix('-').unwrap_or(&t);
    let ok = !body.is_empty() && body.chars().all(|c| c.is_ascii_digit() || c == '.') && body.matches('.').count() <= 1 && body != ".";
    ok.then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn known_dates() {
        let cases = [((1403, 1, 1), g(2024, 3, 20)), ((1399, 12, 30), g(2021, 3, 20)), ((1404, 1, 1), g(2025, 3, 21)), ((1404, 9, 4), g(2025, 11, 25)), ((1400, 1, 1), g(2021, 3, 21)), ((1357, 11, 22), g(1979, 2, 11))];
        for ((y, m, d), greg) in cases {
            let j = JalaliDate::new(y, m, d).unwrap();
            assert_eq!(j.to_gregorian(), Some(greg), "{j} must be {greg}");
            assert_eq!(JalaliDate::from_gregorian(greg), Some(j), "{greg} must be {j}");
        }
        assert!(is_leap_year(1399) && is_leap_year(1403) && !is_leap_year(1404), "1399 and 1403 are leap years, 1404 is not");
        assert_eq!(JalaliDate::new(1404, 12, 30), None, "Esfand 30 does not exist in a common year");
    }

    #[test]
    fn every_day_1300_to_1500_round_trips_in_order() {
        let mut d = JalaliDate::new(1300, 1, 1).unwrap().to_gregorian().unwrap();
        let end = JalaliDate::new(1501, 1, 1).unwrap().to_gregorian().unwrap();
        let mut prev = JalaliDate::from_gregorian(d).unwrap();
        assert_eq!(prev, JalaliDate { year: 1300, month: 1, day: 1 });
        while d < end {
            let j = JalaliDate::from_gregorian(d).unwrap();
            assert_eq!(j.to_gregorian(), Some(d), "{d} → {j} must come back");
            assert!(JalaliDate::new(j.year, j.month, j.day).is_some(), "{j} is a valid day");
            if d > JalaliDate::new(1300, 1, 1).unwrap().to_gregorian().unwrap() {
                let next_expected = if prev.day < month_length(prev.year, prev.month) {
                    JalaliDate { day: prev.day + 1, ..prev }
                } else if prev.month < 12 {
                    JalaliDate { month: prev.month + 1, day: 1, ..prev }
                } else {
                    JalaliDate { year: prev.year + 1, month: 1, day: 1 }
                };
                assert_eq!(j, next_expected, "days follow each other without gaps after {prev}");
            }
            prev = j;
            d = d.succ_opt().unwrap();
        }
    }

    #[test]
    fn digits_and_parsing() {
        assert_eq!(to_ascii_digits("۱۴۰۴/۰۹/۰۴"), "1404/09/04", "Persian digits");
        assert_eq!(to_ascii_digits("٠١٢٣٤٥٦٧٨٩"), "0123456789", "Arabic-Indic digits");
        assert_eq!(to_persian_digits("1404/09/04"), "۱۴۰۴/۰۹/۰۴", "back to Persian");
        assert_eq!(normalize_number("۱۲٬۳۴۵٫۵").as_deref(), Some("12345.5"), "separators too");
        assert_eq!(normalize_number("abc"), None, "not a number");
        assert_eq!(JalaliDate::parse("۱۴۰۴/۰۹/۰۴"), JalaliDate::new(1404, 9, 4), "Siagh's SystemDate form");
        assert_eq!(JalaliDate::parse("1404-9-4"), JalaliDate::new(1404, 9, 4), "dashes, no padding");
        assert_eq!(JalaliDate::parse("1404/13/01"), None, "month 13 does not exist");
    }
}
