//! Connection secrets: the OS keyring (service `crosswalk`, account = connection name),
//! with an environment-variable fallback for headless servers without a keyring.
//!
//! Lookup order: the connection's `secret_env` variable (e.g. `TWENTY_API_KEY`) →
//! `CROSSWALK_SECRET_<CONNECTION>` → the keyring. An explicitly set variable wins, as with
//! most tools, so a server or a demo can override what a desktop login stored. Secrets
//! never go to files, the database or logs.

use crosswalk_core::Secret;

pub const SERVICE: &str = "crosswalk";

/// Where a secret was found (for `health` output; never the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Keyring,
    Env,
}

/// The environment variable name of the generic fallback for `connection`.
pub fn env_name(connection: &str) -> String {
    let up: String = connection.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("CROSSWALK_SECRET_{up}")
}

fn keyring_disabled() -> bool {
    std::env::var_os("CROSSWALK_NO_KEYRING").is_some()
}

fn entry(connection: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(SERVICE, connection).map_err(|e| format!("the OS keyring is not available ({e})"))
}

/// Finds a connection's secret.
pub fn get(connection: &str, secret_env: Option<&str>) -> Option<(Secret, SecretSource)> {
    for var in secret_env.into_iter().map(str::to_string).chain([env_name(connection)]) {
        if let Ok(v) = std::env::var(&var) {
            if !v.trim().is_empty() {
                return Some((Secret::new(v.trim()), SecretSource::Env));
            }
        }
    }
    if !keyring_disabled() {
        if let Ok(e) = entry(connection) {
            if let Ok(s) = e.get_password() {
                return Some((Secret::new(s), SecretSource::Keyring));
            }
        }
    }
    None
}

/// Stores a secret in the OS keyring.
pub fn set(connection: &str, secret: &Secret) -> Result<(), String> {
    if keyring_disabled() {
        return Err(format!("the keyring is turned off (CROSSWALK_NO_KEYRING); set {} instead", env_name(connection)));
    }
    entry(connection)?.set_password(secret.expose()).map_err(|e| {
        format!(
            "could not save the secret for {connection} in the OS keyring ({e}). On a server without a keyring, set the environment variable {} instead",
            env_name(connection)
        )
    })
}

/// Deletes a secret from the OS keyring (signing out). Missing is fine.
pub fn delete(connection: &str) -> Result<(), String> {
    if keyring_disabled() {
        return Ok(());
    }
    match entry(connection)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(format!("could not remove the secret for {connection} from the OS keyring ({e})")),
    }
}

/// Picks the platform keyring explicitly (keyring v3 otherwise falls back to a mock).
pub fn init_default_store() {
    #[cfg(target_os = "linux")]
    {
        // Secret Service (GNOME Keyring, KWallet) is the durable desktop store; kernel
        // keyutils is only a cache, so use it only when asked.
        if std::env::var("CROSSWALK_KEYRING").as_deref() == Ok("keyutils") {
            keyring::set_default_credential_builder(keyring::keyutils::default_credential_builder());
        } else {
            keyring::set_default_credential_builder(keyring::secret_service::default_credential_builder());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the real OS keyring (Secret Service in CI's D-Bus session); `.ci/test` sets
    /// CROSSWALK_KEYRING_TESTS=1 after unlocking gnome-keyring.
    #[test]
    fn keyring_round_trip_and_sign_out() {
        if std::env::var("CROSSWALK_KEYRING_TESTS").as_deref() != Ok("1") {
            eprintln!("skipped: set CROSSWALK_KEYRING_TESTS=1 inside a session with a keyring");
            return;
        }
        init_default_store();
        let name = format!("crosswalk-test-{}", std::process::id());
        set(&name, &Secret::new("s3cret-value")).expect("the keyring stores the secret");
        let (got, source) = get(&name, None).expect("and gives it back");
        assert_eq!(got.expose(), "s3cret-value");
        assert_eq!(source, SecretSource::Keyring);
        delete(&name).expect("signing out deletes it");
        assert!(get(&name, None).is_none(), "after signing out there is no secret");
    }

    #[test]
    fn env_overrides_and_names() {
        assert_eq!(env_name("my-crm"), "CROSSWALK_SECRET_MY_CRM");
        std::env::set_var("CROSSWALK_TEST_SECRET_VAR", " from-env ");
        let (s, src) = get("nobody-here", Some("CROSSWALK_TEST_SECRET_VAR")).unwrap();
        assert_eq!((s.expose(), src), ("from-env", SecretSource::Env), "an explicit variable wins and is trimmed");
    }
}
