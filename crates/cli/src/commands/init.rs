//! `init PRESET`: write a working config; secrets go to the OS keyring.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use crosswalk_engine::presets::{self, Values};
use crosswalk_engine::{AppError, ErrorCode, Paths};

use crate::Cli;

#[derive(Args)]
pub struct InitArgs {
    /// The preset: twenty-excel.
    pub preset: String,
    /// The CRM's URL (else TWENTY_API_URL).
    #[arg(long)]
    pub url: Option<String>,
    /// The workbook (else EXCEL_FILE_PATH, else crm.xlsx next to the config).
    #[arg(long)]
    pub workbook: Option<PathBuf>,
    /// Read the old script's variables from this .env file.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    /// Overwrite an existing config file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(cli: &Cli, a: &InitArgs) -> Result<u8, AppError> {
    let config_path = cli.config.clone().unwrap_or_else(|| Paths::from_env().default_config());
    if config_path.exists() && !a.force {
        return Err(AppError::new(ErrorCode::BadInput, format!("{} already exists; pass --force to replace it", config_path.display())));
    }
    let mut values = Values::default();
    if let Some(f) = &a.env_file {
        values.env_file = presets::read_env_file(f)?;
    }
    if let Some(u) = &a.url {
        values.flags.insert("TWENTY_API_URL".into(), u.clone());
    }
    if let Some(w) = &a.workbook {
        values.flags.insert("EXCEL_FILE_PATH".into(), w.display().to_string());
    }
    let plan = presets::init(&a.preset, &config_path, &values)?;
    for need in &plan.secrets {
        let secret = match &need.value {
            Some(s) => s.clone(),
            None if std::io::stdin().is_terminal() => super::read_secret(&need.prompt)?,
            None => {
                return Err(AppError::new(ErrorCode::BadInput, format!("{} is needed: set {} or run this in a terminal to be asked", need.prompt, need.env_var)));
            }
        };
        match crosswalk_engine::login(&need.connection, &secret) {
            Ok(()) => println!("saved the secret for {} in the OS keyring", need.connection),
            Err(e) => println!(
                "note: {}\n      Crosswalk will read it from the environment variable {} instead.",
                e.message, need.env_var
            ),
        }
    }
    if let Some(dir) = config_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&config_path, &plan.config_text).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot write {}: {e}", config_path.display())))?;
    crosswalk_engine::App::open(Some(&config_path))?;
    println!("wrote {}", config_path.display());
    println!("next:");
    let cfg_flag = cli.config.as_ref().map(|c| format!(" --config {}", c.display())).unwrap_or_default();
    for step in &plan.next_steps {
        println!("  {}", step.replacen("crosswalk", &format!("crosswalk{cfg_flag}"), 1));
    }
    Ok(0)
}
