//! Crosswalk core: the value model, the [`Connector`] trait, link configuration, the
//! planner, the runner and the SQLite state store.
//!
//! Invariants this crate keeps:
//! - Values are compared only after [`value::canonicalize`]; equal business values are equal.
//! - The [`planner`] is a pure function: same inputs (in any order) → same plan.
//! - The [`runner`] advances a pair's base only after the write it depends on is confirmed,
//!   and journals every remote create first, so a crash never produces a duplicate.
//! - `core` knows no vendor and does no I/O except SQLite.

pub mod config;
pub mod connector;
pub mod md5;
pub mod secret;
pub mod store;
pub mod planner;
pub mod runner;
pub mod value;

pub use config::{Config, ConfigError, LinkDef, Side};
pub use connector::{Capabilities, Connector, ConnectorError, Identity, ListRequest, ObjectSchema, FieldSchema, Page, Record, RecordPatch, WriteResult};
pub use value::{canonicalize, FieldType, Fields, Value};
pub use secret::Secret;
