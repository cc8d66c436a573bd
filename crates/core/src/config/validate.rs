//! Pure cross-key validation of a parsed [`Config`].

use std::collections::BTreeSet;

use super::{Config, ConfigError, KeyPath, Side};

pub fn validate(config: &Config, known_kinds: &[&str]) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    for (name, conn) in &config.connections {
        if !known_kinds.contains(&conn.kind.as_str()) {
            errors.push(config.error_at(
                &KeyPath::connection(name).key("kind"),
                format!("unknown connector kind {:?}; use one of: {}", conn.kind, known_kinds.join(", ")),
            ));
        }
        for secret_key in ["api_key", "api_secret", "password", "secret", "token", "client_secret", "refresh_token"] {
            if conn.settings.contains_key(secret_key) {
                errors.push(config.error_at(
                    &KeyPath::connection(name).key(secret_key),
                    "secrets don't belong in the config file; remove this line and run `crosswalk login CONNECTION` to store it in the OS keyring",
                ));
            }
        }
    }
    if config.links.is_empty() {
        errors.push(config.error_at(&KeyPath::new().key("links"), "no links are defined; add a [links.NAME] table or run `crosswalk init PRESET`"));
    }
    for (name, link) in &config.links {
        let at = || KeyPath::link(name);
        for side in [Side::Left, Side::Right] {
            let ep = link.endpoint(side);
            if !config.connections.contains_key(&ep.connection) {
                let known: Vec<&str> = config.connections.keys().map(String::as_str).collect();
                errors.push(config.error_at(
                    &at().key(side.as_str()).key("connection"),
                    format!(
                        "link names connection {:?}, which is not defined; define [connections.{}] or use one of: {}",
                        ep.connection,
                        ep.connection,
                        if known.is_empty() { "(none defined)".to_string() } else { known.join(", ") }
                    ),
                ));
            }
            if ep.object.trim().is_empty() {
                errors.push(config.error_at(&at().key(side.as_str()).key("object"), "object name is empty"));
            }
        }
        if link.left == link.right {
            errors.push(config.error_at(&at().key("right"), "a link must join two different objects"));
        }
        if link.fields.is_empty() {
            errors.push(config.error_at(&at().key("fields"), "no fields are mapped; add at least one [[links.NAME.fields]] with left and right"));
        }
        let mut seen_left = BTreeSet::new();
        let mut seen_right = BTreeSet::new();
        for (i, f) in link.fields.iter().enumerate() {
            if f.left.trim().is_empty() {
                errors.push(config.error_at(&at().key("fields").index(i).key("left"), "field name is empty"));
            }
            if f.right.trim().is_empty() {
                errors.push(config.error_at(&at().key("fields").index(i).key("right"), "field name is empty"));
            }
            if !seen_left.insert(f.left.clone()) {
                errors.push(config.error_at(&at().key("fields").index(i).key("left"), format!("{:?} is mapped twice on the left", f.left)));
            }
            if !seen_right.insert(f.right.clone()) {
                errors.push(config.error_at(&at().key("fields").index(i).key("right"), format!("{:?} is mapped twice on the right", f.right)));
            }
            let mut targets = BTreeSet::new();
            for v in f.values.values() {
                if !targets.insert(v) {
                    errors.push(config.error_at(
                        &at().key("fields").index(i).key("values"),
                        format!("two left values map to {v:?}; value renames must be one-to-one so they can be reversed"),
                    ));
                }
            }
        }
        if let Some(id) = &link.id_field {
            let mapped = match id.side {
                Side::Left => seen_left.contains(&id.field),
                Side::Right => seen_right.contains(&id.field),
            };
            if mapped {
                errors.push(config.error_at(&at().key("id_field").key("field"), format!("{:?} holds the other side's id and must not also be a mapped field", id.field)));
            }
        }
        if let Some(mk) = &link.match_key {
            if !seen_left.contains(&mk.left) {
                errors.push(config.error_at(&at().key("match_key").key("left"), format!("match key {:?} is not a mapped left field; map it under fields", mk.left)));
            }
            if !seen_right.contains(&mk.right) {
                errors.push(config.error_at(&at().key("match_key").key("right"), format!("match key {:?} is not a mapped right field; map it under fields", mk.right)));
            }
        }
        if !(0.0..=1.0).contains(&link.mass_delete.max_share) {
            errors.push(config.error_at(&at().key("mass_delete").key("max_share"), "must be a share between 0.0 and 1.0"));
        }
        if link.triggers.manual && link.triggers.every_minutes.is_some() {
            errors.push(config.error_at(
                &at().key("triggers").key("every_minutes"),
                "a manual link runs only when asked for by name; remove every_minutes or manual = true",
            ));
        }
        if link.triggers.every_minutes == Some(0) {
            errors.push(config.error_at(&at().key("triggers").key("every_minutes"), "must be at least 1 (minutes)"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
