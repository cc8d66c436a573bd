//! `login CONNECTION`: store a connection's secret in the OS keyring. Zoho connections
//! sign in through the browser (PKCE, loopback redirect), or `--device`, or
//! `--grant-code CODE` (a Self-client grant code).

use std::time::Duration;

use clap::Args;
use crosswalk_core::Secret;
use crosswalk_engine::zoho_auth::{self, DeviceSignIn, ZohoSignIn, ZohoSignedIn};
use crosswalk_engine::{AppError, ErrorCode};

use crate::Cli;

#[derive(Args)]
pub struct LoginArgs {
    pub connection: String,
    /// Zoho: sign in with the device flow (for a client registered without a redirect URI).
    #[arg(long)]
    pub device: bool,
    /// Zoho: a grant code generated for a Self client in the API console.
    #[arg(long, value_name = "CODE")]
    pub grant_code: Option<String>,
    /// Zoho: print the sign-in URL without trying to open a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Zoho: seconds to wait for the browser.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

pub async fn run(cli: &Cli, a: &LoginArgs) -> Result<u8, AppError> {
    let app = super::open(cli)?;
    let kind = app.config().connections.get(&a.connection).map(|d| d.kind.clone());
    if kind.as_deref() != Some("zoho") {
        return super::login(cli, &a.connection);
    }
    let client_secret = if zoho_auth::has_client_secret(&app, &a.connection) { None } else { Some(super::read_secret(&format!("Client secret of {} (API console)", a.connection))?) };
    let done: ZohoSignedIn = if let Some(code) = &a.grant_code {
        zoho_auth::login_with_grant_code(&app, &a.connection, &Secret::new(code.trim()), client_secret).await?
    } else if a.device {
        let d = DeviceSignIn::start(&app, &a.connection, client_secret).await?;
        println!("Open {} and enter the code {}", d.verification_url(), d.user_code());
        d.finish().await?
    } else {
        let s = ZohoSignIn::start_with_secret(&app, &a.connection, client_secret).await?;
        println!("Sign in to Zoho for {} (redirect {}):\n  {}", a.connection, s.redirect_uri(), s.authorization_url());
        if !a.no_browser && zoho_auth::open_browser(s.authorization_url()) {
            println!("(opened in your browser; waiting for Zoho to send you back)");
        }
        s.finish(Duration::from_secs(a.timeout)).await.map_err(|e| {
            if e.code == ErrorCode::Unavailable {
                AppError::new(e.code, format!("{}; if the browser cannot reach 127.0.0.1, use --device or --grant-code", e.message))
            } else {
                e
            }
        })?
    };
    println!(
        "signed in: {} ({}{}); the refresh token is in the OS keyring. Check it with `crosswalk health {}`",
        done.connection,
        done.accounts_server,
        done.location.map(|l| format!(", data centre {l}")).unwrap_or_default(),
        done.connection
    );
    Ok(0)
}
