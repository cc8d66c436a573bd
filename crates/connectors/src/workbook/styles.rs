//! Just enough of `xl/styles.xml` to know which cell styles show dates, so a date written
//! into an existing workbook lands as a real date, never as a bare serial number.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Which cell formats (`cellXfs` indexes, the `s` attribute of a cell) are dates.
#[derive(Clone, Debug, Default)]
pub struct StyleInfo {
    pub date_xfs: Vec<bool>,
    /// The first date style, used for a date written into an unstyled cell.
    pub first_date_xf: Option<u32>,
}

impl StyleInfo {
    pub fn is_date(&self, s: &str) -> bool {
        s.parse::<usize>().ok().and_then(|i| self.date_xfs.get(i).copied()).unwrap_or(false)
    }
}

fn builtin_is_date(id: u32) -> bool {
    matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58)
}

/// Whether a number format code shows a date or time (quoted text and `[Red]` ignored).
pub fn code_is_date(code: &str) -> bool {
    let mut in_quote = false;
    let mut in_bracket = false;
    let mut prev_escape = false;
    for ch in code.chars() {
        if prev_escape {
            prev_escape = false;
            continue;
        }
        match ch {
            '"' => in_quote = !in_quote,
            '\\' if !in_quote => prev_escape = true,
            '[' if !in_quote => in_bracket = true,
            ']' if !in_quote => in_bracket = false,
            'd' | 'D' | 'm' | 'M' | 'y' | 'Y' | 'h' | 'H' | 's' | 'S' if !in_quote && !in_bracket => return !code.eq_ignore_ascii_case("general"),
            _ => {}
        }
    }
    false
}

/// Parses the styles part; a missing or odd part gives "no date styles".
pub fn parse(xml: &[u8]) -> StyleInfo {
    let mut r = Reader::from_reader(xml);
    let mut custom: Vec<(u32, bool)> = vec![];
    let mut in_xfs = false;
    let mut xfs: Vec<u32> = vec![];
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name();
                match name.as_ref() {
                    b"numFmt" => {
                        let mut id = None;
                        let mut code = String::new();
                        for a in e.attributes().flatten() {
                            match a.key.local_name().as_ref() {
                                b"numFmtId" => id = String::from_utf8_lossy(&a.value).parse().ok(),
                                b"formatCode" => code = String::from_utf8_lossy(&a.value).replace("&quot;", "\"").replace("&amp;", "&"),
                                _ => {}
                            }
                        }
                        if let Some(id) = id {
                            custom.push((id, code_is_date(&code)));
                        }
                    }
                    b"cellXfs" => in_xfs = true,
                    b"xf" if in_xfs => {
                        let id = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.local_name().as_ref() == b"numFmtId")
                            .and_then(|a| String::from_utf8_lossy(&a.value).parse().ok())
                            .unwrap_or(0);
                        xfs.push(id);
                    }
                    _ => {}
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == b"cellXfs" => in_xfs = false,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    let date_xfs: Vec<bool> = xfs
        .iter()
        .map(|id| custom.iter().find(|(c, _)| c == id).map(|(_, d)| *d).unwrap_or_else(|| builtin_is_date(*id)))
        .collect();
    let first_date_xf = date_xfs.iter().position(|d| *d).map(|i| i as u32);
    StyleInfo { date_xfs, first_date_xf }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_codes_are_recognised() {
        assert!(code_is_date("yyyy-mm-dd"), "an ISO date format shows a date");
        assert!(code_is_date("[$-409]d-mmm-yy;@"), "a locale prefix doesn't hide the date");
        assert!(!code_is_date("0.00"), "a number format is not a date");
        assert!(!code_is_date("\"days\" 0"), "quoted text with d is not a date");
        assert!(!code_is_date("[Red]0"), "a colour in brackets is not a date");
    }
}
