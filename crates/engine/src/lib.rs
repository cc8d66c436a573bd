//! Crosswalk engine: owns connections and links, runs the triggers (scheduler, workbook
//! watcher, webhook listener), publishes events, and exposes the app API that both the
//! `crosswalk` CLI and the desktop shell call. Front ends stay thin: no sync logic above
//! this crate.

pub mod app;
pub mod delivery;
pub mod control;
pub mod error;
pub mod events;
pub mod paths;
pub mod presets;
pub mod secrets;
pub mod select;
pub mod setup;
pub mod translate;
pub mod watch;
pub mod webhook_setup;
pub mod webhooks;
pub mod zoho_auth;
pub mod zoho_transfer;

pub use app::{login, logout, App, LinkStatus, Take};
pub use error::{AppError, ErrorCode};
pub use events::AppEvent;
pub use paths::Paths;
