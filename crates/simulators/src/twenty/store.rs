//! The simulated workspace's data: records per object, the write rules Twenty applies, and
//! the events each change produces (for webhooks).

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value as Json};

use super::query::Filter;
use super::schema::{standard_objects, ObjectDef};

/// An API error as Twenty answers it: `{statusCode, error, messages[]}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub error: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: 400, error: "BadRequestException", message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { status: 404, error: "NotFoundException", message: message.into() }
    }
    pub fn body(&self) -> Json {
        json!({"statusCode": self.status, "error": self.error, "messages": [self.message]})
    }
}

/// A record change, for webhooks.
#[derive(Clone, Debug)]
pub struct Event {
    pub object_singular: String,
    pub action: &'static str,
    pub record: Map<String, Json>,
    pub updated_fields: Option<Vec<String>>,
}

/// Who made a change (the `createdBy` actor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Api,
    User,
}

#[derive(Debug)]
pub struct Store {
    pub objects: Vec<ObjectDef>,
    rows: BTreeMap<String, BTreeMap<String, Map<String, Json>>>,
    clock_ms: i64,
    position: i64,
}

pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

impl Default for Store {
    fn default() -> Self {
        Store { objects: standard_objects(), rows: BTreeMap::new(), clock_ms: 0, position: 0 }
    }
}

impl Store {
    pub fn def(&self, plural: &str) -> Option<&ObjectDef> {
        self.objects.iter().find(|o| o.plural == plural)
    }

    fn def_or_400(&self, plural: &str) -> Result<ObjectDef, ApiError> {
        self.def(plural).cloned().ok_or_else(|| ApiError::bad_request(format!("object '{plural}' not found")))
    }

    /// A strictly increasing timestamp (ms), never behind the wall clock.
    pub fn tick(&mut self) -> String {
        self.clock_ms = (self.clock_ms + 1).max(Utc::now().timestamp_millis());
        Utc.timestamp_millis_opt(self.clock_ms).single().unwrap_or_else(Utc::now).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    /// Live (not soft-deleted) record.
    pub fn get(&self, plural: &str, id: &str) -> Option<&Map<String, Json>> {
        self.rows.get(plural)?.get(id).filter(|r| r.get("deletedAt").is_none_or(Json::is_null))
    }

    /// Any record, soft-deleted included.
    pub fn get_any(&self, plural: &str, id: &str) -> Option<&Map<String, Json>> {
        self.rows.get(plural)?.get(id)
    }

    /// Records matching `filter`; soft-deleted ones only when the filter names `deletedAt`.
    pub fn query(&self, plural: &str, filter: Option<&Filter>) -> Vec<&Map<String, Json>> {
        let with_deleted = filter.is_some_and(|f| f.paths().contains(&"deletedAt"));
        self.rows
            .get(plural)
            .map(|rows| {
                rows.values()
                    .filter(|r| with_deleted || r.get("deletedAt").is_none_or(Json::is_null))
                    .filter(|r| filter.is_none_or(|f| f.matches(r)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn count(&self, plural: &str) -> usize {
        self.query(plural, None).len()
    }

    /// Applies `body` onto `record`, checking fields the way Twenty does.
    fn apply(&self, def: &ObjectDef, record: &mut Map<String, Json>, body: &Json) -> Result<Vec<String>, ApiError> {
        let body = body.as_object().ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
        let mut changed = vec![];
        for (k, v) in body {
            if matches!(k.as_str(), "id" | "createdAt" | "updatedAt" | "deletedAt" | "createdBy" | "updatedBy" | "searchVector") {
                continue;
            }
            if !def.knows(k) {
                return Err(ApiError::bad_request(format!("Object {} doesn't have any \"{k}\" field.", def.singular)));
            }
            if let Some(fd) = def.field(k) {
                if fd.ty == "RELATION" {
                    return Err(ApiError::bad_request(format!("\"{k}\" is a relation; write its id field instead")));
                }
            }
            if k.ends_with("Id") && !v.is_null() {
                let target = def.fields.iter().find_map(|f| f.relation.filter(|(_, col)| col == k).map(|(t, _)| t));
                let id = v.as_str().unwrap_or_default();
                if !is_uuid(id) {
                    return Err(ApiError::bad_request(format!("'{id}' is not a valid UUID for {k}")));
                }
                if let Some(t) = target.filter(|t| self.def(t).is_some()) {
                    if self.get(t, id).is_none() {
                        return Err(ApiError::bad_request(format!("{k}: no {t} record with id {id}")));
                    }
                }
            }
            let before = record.get(k).cloned().unwrap_or(Json::Null);
            match (record.get_mut(k), v) {
                (Some(Json::Object(cur)), Json::Object(sub)) => {
                    for (sk, sv) in sub {
                        if !cur.contains_key(sk) {
                            return Err(ApiError::bad_request(format!("\"{sk}\" is not a sub-field of {k}")));
                        }
                        cur.insert(sk.clone(), sv.clone());
                    }
                }
                (Some(Json::Object(_)), other) if !other.is_null() => {
                    return Err(ApiError::bad_request(format!("{k} must be an object of its sub-fields")));
                }
                _ => {
                    record.insert(k.clone(), v.clone());
                }
            }
            if record.get(k) != Some(&before) {
                changed.push(k.clone());
            }
        }
        Ok(changed)
    }

    /// Creates one record.
    pub fn create(&mut self, plural: &str, body: &Json, actor: Actor) -> Result<(Map<String, Json>, Event), ApiError> {
        let def = self.def_or_400(plural)?;
        let mut r = def.defaults();
        self.apply(&def, &mut r, body)?;
        let id = match body.get("id").and_then(Json::as_str) {
            Some(id) if !is_uuid(id) => return Err(ApiError::bad_request(format!("'{id}' is not a valid UUID"))),
            Some(id) if self.get_any(plural, id).is_some() => return Err(ApiError::bad_request("Record already exists")),
            Some(id) => id.to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let now = self.tick();
        self.position += 1;
        r.insert("id".into(), json!(id));
        r.insert("createdAt".into(), json!(now));
        r.insert("updatedAt".into(), json!(now));
        r.insert("deletedAt".into(), Json::Null);
        if body.get("position").is_none() {
            r.insert("position".into(), json!(self.position));
        }
        let who = match actor {
            Actor::Api => json!({"source": "API", "workspaceMemberId": null, "name": "Crosswalk test key", "context": {}}),
            Actor::User => json!({"source": "MANUAL", "workspaceMemberId": null, "name": "Sam User", "context": {}}),
        };
        r.insert("createdBy".into(), who);
        self.rows.entry(plural.to_string()).or_default().insert(id, r.clone());
        let ev = Event { object_singular: def.singular.into(), action: "created", record: r.clone(), updated_fields: None };
        Ok((r, ev))
    }

    /// Updates one live record.
    pub fn update(&mut self, plural: &str, id: &str, body: &Json) -> Result<(Map<String, Json>, Event), ApiError> {
        let def = self.def_or_400(plural)?;
        let mut r = self.get(plural, id).cloned().ok_or_else(|| ApiError::not_found(format!("Record with id {id} not found")))?;
        let changed = self.apply(&def, &mut r, body)?;
        if !changed.is_empty() {
            r.insert("updatedAt".into(), json!(self.tick()));
        }
        self.rows.entry(plural.to_string()).or_default().insert(id.to_string(), r.clone());
        let ev = Event { object_singular: def.singular.into(), action: "updated", record: r.clone(), updated_fields: Some(changed) };
        Ok((r, ev))
    }

    /// Soft delete (sets `deletedAt`) or destroy.
    pub fn delete(&mut self, plural: &str, id: &str, soft: bool) -> Result<(Map<String, Json>, Event), ApiError> {
        let def = self.def_or_400(plural)?;
        let exists = if soft { self.get(plural, id).is_some() } else { self.get_any(plural, id).is_some() };
        if !exists {
            return Err(ApiError::not_found(format!("Record with id {id} not found")));
        }
        let rows = self.rows.entry(plural.to_string()).or_default();
        let (r, action) = if soft {
            let now = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            let r = rows.get_mut(id).expect("checked above");
            r.insert("deletedAt".into(), json!(now));
            (r.clone(), "deleted")
        } else {
            (rows.remove(id).expect("checked above"), "destroyed")
        };
        let ev = Event { object_singular: def.singular.into(), action, record: r.clone(), updated_fields: None };
        Ok((r, ev))
    }
}
