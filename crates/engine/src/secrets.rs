//! Connection secrets: the OS keyring (service `crosswalk`, account = connection name),
//! with an environment-variable fallback for headless servers without a keyring.
//!
//! Lookup order: the connection's `secret_env` variable (e.g. `TWENTY_API_KEY`) →
//! `CROSSWALK_SECRET_<CONNECTION>` → the keyring. An explicitly set variable wins, as with
//! most tools, so a server or a demo can override what a desktop login stored. Secrets
//! never go to files, the database or logs.
//!
//! Every keyring call runs on its own thread with a time limit ([`timeout`], 10 s unless
//! `CROSSWALK_KEYRING_TIMEOUT` says otherwise): a locked gnome-keyring or a Secret Service
//! that never answers makes the call fail with a plain message instead of hanging the app
//! or the CLI. While such a call is still stuck, later calls fail at once with the same
//! message; once it returns (the keyring was unlocked), calls go through again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crosswalk_core::Secret;

pub const SERVICE: &str = "crosswalk";

/// Seconds a keyring call may take before it is reported as not answering.
pub const TIMEOUT_ENV: &str = "CROSSWALK_KEYRING_TIMEOUT";

/// Keyring calls that timed out and have not returned yet.
static STUCK: AtomicUsize = AtomicUsize::new(0);

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

/// How long one keyring call may take: `CROSSWALK_KEYRING_TIMEOUT` seconds (fractions
/// allowed), else 10 s.
pub fn timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(10))
}

/// The message for a keyring that does not answer.
pub fn not_answering(limit: Duration) -> String {
    let secs = limit.as_secs_f64();
    let secs = if secs.fract() == 0.0 { format!("{secs:.0}") } else { format!("{secs:.1}") };
    format!("the OS keyring did not answer within {secs} s — unlock it or set CROSSWALK_NO_KEYRING and use environment variables")
}

/// Runs `op` on the keyring entry of `connection` on its own thread, giving up after
/// [`timeout`].
fn with_entry<T: Send + 'static>(connection: &str, op: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static) -> Result<keyring::Result<T>, String> {
    let account = connection.to_string();
    call_with_limit(timeout(), &STUCK, move || keyring::Entry::new(SERVICE, &account).and_then(|e| op(&e)))
}

/// Runs `op` on a thread and waits at most `limit` for it. A call that gives up leaves its
/// thread blocked (counted in `stuck`) until the keyring answers or the process ends; while
/// any is stuck, calls fail at once.
fn call_with_limit<T: Send + 'static>(limit: Duration, stuck: &'static AtomicUsize, op: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    if stuck.load(Ordering::SeqCst) > 0 {
        return Err(not_answering(limit));
    }
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            if tx.send(op()).is_err() {
                // The caller gave up on this call; the keyring answers again.
                stuck.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .map_err(|e| format!("could not start a keyring call ({e})"))?;
    match rx.recv_timeout(limit) {
        Ok(r) => Ok(r),
        Err(_) => {
            // Count before dropping the receiver, so the thread's decrement pairs with it.
            stuck.fetch_add(1, Ordering::SeqCst);
            match rx.try_recv() {
                Ok(r) => {
                    stuck.fetch_sub(1, Ordering::SeqCst);
                    Ok(r)
                }
                Err(_) => {
                    drop(rx);
                    tracing::warn!(timeout_ms = limit.as_millis() as u64, "The OS keyring did not answer");
                    Err(not_answering(limit))
                }
            }
        }
    }
}

/// Finds a connection's secret; `None` when there is none.
pub fn get(connection: &str, secret_env: Option<&str>) -> Option<(Secret, SecretSource)> {
    lookup(connection, secret_env).unwrap_or_else(|e| {
        tracing::warn!(connection, error = %e, "Keyring lookup failed");
        None
    })
}

/// Finds a connection's secret. `Err` when the keyring did not answer in time (so a
/// front end can say so instead of "not signed in"); other keyring failures are `None`.
pub fn lookup(connection: &str, secret_env: Option<&str>) -> Result<Option<(Secret, SecretSource)>, String> {
    for var in secret_env.into_iter().map(str::to_string).chain([env_name(connection)]) {
        if let Ok(v) = std::env::var(&var) {
            if !v.trim().is_empty() {
                return Ok(Some((Secret::new(v.trim()), SecretSource::Env)));
            }
        }
    }
    if keyring_disabled() {
        return Ok(None);
    }
    Ok(with_entry(connection, |e| e.get_password())?.ok().map(|s| (Secret::new(s), SecretSource::Keyring)))
}

/// Stores a secret in the OS keyring.
pub fn set(connection: &str, secret: &Secret) -> Result<(), String> {
    if keyring_disabled() {
        return Err(format!("the keyring is turned off (CROSSWALK_NO_KEYRING); set {} instead", env_name(connection)));
    }
    let value = secret.expose().to_string();
    with_entry(connection, move |e| e.set_password(&value))?.map_err(|e| {
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
    match with_entry(connection, |e| e.delete_credential())? {
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
    fn a_stuck_call_times_out_fails_fast_until_it_returns_then_calls_work_again() {
        static STUCK_HERE: AtomicUsize = AtomicUsize::new(0);
        let limit = Duration::from_millis(200);
        let (release, wait) = mpsc::channel::<()>();
        let t0 = std::time::Instant::now();
        let e = call_with_limit(limit, &STUCK_HERE, move || wait.recv().is_ok()).unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(2), "a call that never answers gives up after the limit, not later");
        assert_eq!(e, "the OS keyring did not answer within 0.2 s — unlock it or set CROSSWALK_NO_KEYRING and use environment variables", "the message says what to do");
        let t1 = std::time::Instant::now();
        assert!(call_with_limit(limit, &STUCK_HERE, || true).is_err(), "while one call is stuck, the next fails at once");
        assert!(t1.elapsed() < Duration::from_millis(150), "without waiting out another time-out");
        release.send(()).unwrap();
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while STUCK_HERE.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(call_with_limit(limit, &STUCK_HERE, || 7), Ok(7), "once the stuck call returned (keyring unlocked), calls go through");
    }

    #[test]
    fn the_time_limit_comes_from_the_environment() {
        assert_eq!(not_answering(Duration::from_secs(10)), "the OS keyring did not answer within 10 s — unlock it or set CROSSWALK_NO_KEYRING and use environment variables");
        // Only this test sets the variable; the default holds when it is absent or bad.
        std::env::set_var(TIMEOUT_ENV, "2.5");
        assert_eq!(timeout(), Duration::from_millis(2500), "fractions of a second are allowed");
        std::env::set_var(TIMEOUT_ENV, "soon");
        assert_eq!(timeout(), Duration::from_secs(10), "an unreadable value falls back to 10 s");
        std::env::remove_var(TIMEOUT_ENV);
    }

    /// Regression: with a Secret Service that accepts the D-Bus connection and never
    /// answers (a locked or wedged gnome-keyring), `crosswalk health` and the app hung
    /// forever. Run in a child process so its environment stays its own.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_keyring_that_never_answers_is_reported_within_the_limit() {
        const NAME: &str = "secrets::tests::a_keyring_that_never_answers_is_reported_within_the_limit";
        if std::env::var_os("CROSSWALK_KEYRING_HANG_CHILD").is_some() {
            init_default_store();
            let t0 = std::time::Instant::now();
            let e = lookup("hang-test", None).expect_err("a silent keyring is an error, not a wait");
            assert!(e.contains("did not answer within 0.5 s"), "plain message: {e}");
            assert!(t0.elapsed() < Duration::from_secs(3), "reported after the limit: {:?}", t0.elapsed());
            let e = set("hang-test", &Secret::new("x")).expect_err("saving fails the same way");
            assert!(e.contains("did not answer"), "{e}");
            assert!(t0.elapsed() < Duration::from_secs(3), "the second call does not wait again: {:?}", t0.elapsed());
            println!("CHILD-OK");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("bus");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        // A "bus" that accepts connections and never says a word.
        std::thread::spawn(move || {
            let mut held = vec![];
            for s in listener.incoming() {
                held.push(s);
            }
        });
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env("CROSSWALK_KEYRING_HANG_CHILD", "1")
            .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", sock.display()))
            .env(TIMEOUT_ENV, "0.5")
            .env_remove("CROSSWALK_NO_KEYRING")
            .env_remove("CROSSWALK_KEYRING")
            .env_remove("CROSSWALK_SECRET_HANG_TEST")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("CHILD-OK"), "the child reported the silent keyring in time:\n{text}");
    }

    #[test]
    fn env_overrides_and_names() {
        assert_eq!(env_name("my-crm"), "CROSSWALK_SECRET_MY_CRM");
        std::env::set_var("CROSSWALK_TEST_SECRET_VAR", " from-env ");
        let (s, src) = get("nobody-here", Some("CROSSWALK_TEST_SECRET_VAR")).unwrap();
        assert_eq!((s.expose(), src), ("from-env", SecretSource::Env), "an explicit variable wins and is trimmed");
    }
}
