//! placeholder
pub struct WorkbookWatcher;
