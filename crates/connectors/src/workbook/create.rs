//! A new workbook, made with `rust_xlsxwriter` when the configured file doesn't exist yet:
//! one sheet per object with a styled, frozen header, a filter, sensible widths, id
//! columns formatted as text (19-digit ids survive), real dates, drop-downs for columns with
//! fixed options, and our hidden key column last.

use crosswalk_core::{ConnectorError, Fields, Value};
use rust_xlsxwriter::{Color, DataValidation, Format, FormatBorder, Workbook};

use super::config::{SheetConfig, KEY_HEADER};
use super::sheetxml::date_serial;

/// One sheet of a new workbook.
#[derive(Clone, Debug)]
pub struct NewSheet {
    pub name: String,
    /// The user's columns in order (our key column is added after them).
    pub columns: Vec<String>,
    /// (row key, fields) in order.
    pub rows: Vec<(String, Fields)>,
    pub cfg: SheetConfig,
}

fn xerr(file: &str, e: rust_xlsxwriter::XlsxError) -> ConnectorError {
    ConnectorError::Invalid(format!("{file} could not be created: {e}; check the sheet and column names in the settings"))
}

/// Builds the workbook bytes. `header_row` is 1-based.
pub fn new_workbook(file: &str, sheets: &[NewSheet], header_row: u32) -> Result<Vec<u8>, ConnectorError> {
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_background_color(Color::RGB(0xDDEBF7)).set_border_bottom(FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let h = header_row - 1;
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&sheet.name).map_err(|e| xerr(file, e))?;
        let key_col = sheet.columns.len() as u16;
        for (c, name) in sheet.columns.iter().chain(std::iter::once(&KEY_HEADER.to_string())).enumerate() {
            ws.write_string_with_format(h, c as u16, name, &header).map_err(|e| xerr(file, e))?;
        }
        let mut widths: Vec<usize> = sheet.columns.iter().map(|c| c.chars().count()).collect();
        for (i, (key, fields)) in sheet.rows.iter().enumerate() {
            let r = h + 1 + i as u32;
            for (c, name) in sheet.columns.iter().enumerate() {
                let c16 = c as u16;
                let v = fields.get(name).unwrap_or(&Value::Null);
                let is_id = sheet.cfg.id_columns.contains(name);
                widths[c] = widths[c].max(v.display().chars().count().min(60));
                let res = match v {
                    Value::Null => continue,
                    _ if is_id => ws.write_string_with_format(r, c16, v.display(), &text),
                    Value::Text(s) => ws.write_string(r, c16, s),
                    Value::Int(i) => ws.write_number(r, c16, *i as f64),
                    Value::Float(f) => ws.write_number(r, c16, f.0),
                    Value::Decimal(d) => match d.to_string().parse::<f64>() {
                        Ok(f) => ws.write_number(r, c16, f),
                        Err(_) => ws.write_string(r, c16, d.to_string()),
                    },
                    Value::Bool(b) => ws.write_boolean(r, c16, *b),
                    Value::Date(_) => ws.write_number_with_format(r, c16, date_serial(v, false).unwrap_or(0.0), &date),
                    Value::DateTime(_) => ws.write_number_with_format(r, c16, date_serial(v, false).unwrap_or(0.0), &datetime),
                    Value::List(_) => ws.write_string(r, c16, v.display()),
                };
                res.map_err(|e| xerr(file, e))?;
            }
            ws.write_string(r, key_col, key).map_err(|e| xerr(file, e))?;
        }
        // The filter covers the header and the rows; write-back extends it over appended rows.
        let last_row = h + sheet.rows.len() as u32;
        for (c, name) in sheet.columns.iter().enumerate() {
            let c16 = c as u16;
            let is_date = sheet.cfg.date_columns.contains(name);
            ws.set_column_width(c16, (widths[c].clamp(8, 50) + 2) as f64).map_err(|e| xerr(file, e))?;
            if sheet.cfg.id_columns.contains(name) {
                ws.set_column_format(c16, &text).map_err(|e| xerr(file, e))?;
            } else if is_date {
                ws.set_column_format(c16, &date).map_err(|e| xerr(file, e))?;
            }
            if let Some(opts) = sheet.cfg.options.get(name) {
                let dv = DataValidation::new().allow_list_strings(opts).map_err(|e| xerr(file, e))?;
                ws.add_data_validation(h + 1, c16, 1_048_575, c16, &dv).map_err(|e| xerr(file, e))?;
            }
        }
        ws.set_column_hidden(key_col).map_err(|e| xerr(file, e))?;
        ws.set_freeze_panes(h + 1, 0).map_err(|e| xerr(file, e))?;
        if !sheet.columns.is_empty() {
            ws.autofilter(h, 0, last_row, key_col.saturating_sub(1)).map_err(|e| xerr(file, e))?;
        }
    }
    if sheets.is_empty() {
        wb.add_worksheet();
    }
    wb.save_to_buffer().map_err(|e| xerr(file, e))
}
