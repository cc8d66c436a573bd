//! `conflicts`: list what waits for a person, or settle one.

use clap::Args;
use crosswalk_core::planner::ConflictKind;
use crosswalk_engine::{AppError, Take};

use crate::{output, Cli};

#[derive(Args)]
pub struct ConflictArgs {
    /// Only this link's conflicts.
    #[arg(long)]
    pub link: Option<String>,
    /// Settle conflict ID (with --take).
    #[arg(long, requires = "take")]
    pub resolve: Option<i64>,
    /// `left`, `right`, or a value to write to both sides.
    #[arg(long)]
    pub take: Option<String>,
}

pub fn run(cli: &Cli, a: &ConflictArgs) -> Result<u8, AppError> {
    let app = super::open(cli)?;
    if let (Some(id), Some(take)) = (a.resolve, &a.take) {
        let t = match take.as_str() {
            "left" => Take::Left,
            "right" => Take::Right,
            v => Take::Value(v.to_string()),
        };
        let c = app.resolve(id, &t)?;
        if cli.json {
            output::json(&c);
        } else {
            println!("conflict {id} settled; the next run of {} writes it (`crosswalk sync {}`)", c.link, c.link);
        }
        return Ok(0);
    }
    let list = app.conflicts(a.link.as_deref())?;
    if cli.json {
        output::json(&list);
        return Ok(0);
    }
    if list.is_empty() {
        println!("no conflicts wait for you");
    }
    for c in list {
        let def = app.config().links.get(&c.link);
        let (ln, rn) = def.map(|d| (d.left.connection.as_str(), d.right.connection.as_str())).unwrap_or(("left", "right"));
        match &c.conflict.kind {
            ConflictKind::Field => {
                println!("#{} {} · field {} · {ln} {} ↔ {rn} {}", c.id, c.link, c.conflict.field, c.conflict.left_id, c.conflict.right_id);
                println!("    was:   {:?}", c.conflict.base.display());
                println!("    {ln:<6} {:?}", c.conflict.left.display());
                println!("    {rn:<6} {:?}", c.conflict.right.display());
            }
            ConflictKind::Deleted(side) => {
                println!("#{} {} · deleted on the {side} side · {ln} {} ↔ {rn} {}", c.id, c.link, c.conflict.left_id, c.conflict.right_id);
                println!("    --take {side} deletes it on the other side too; --take {} restores it", side.other());
            }
        }
        println!("    settle: crosswalk conflicts --resolve {} --take left|right|VALUE", c.id);
    }
    Ok(0)
}
