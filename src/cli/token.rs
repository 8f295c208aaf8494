//! `flightdeck token create|list|revoke`.

use std::io::Write;

use anyhow::{bail, Context};

use crate::{
    auth,
    config::{TokenAction, TokenCommand},
    store::{self, TokenRecord},
};

pub async fn run(command: TokenCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let store = store::open(&command.database_url).await.context("opening the database")?;
    match command.action {
        TokenAction::Create { name, workspace, role } => {
            app::domain::check::workspace(&workspace).map_err(|e| anyhow::anyhow!("{e}"))?;
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let token = auth::generate_token();
            let record = TokenRecord { id: uuid::Uuid::new_v4().to_string(), workspace, role, name };
            store.create_token(&record, &auth::hash_token(&token)).await?;
            writeln!(out, "{token}")?;
            writeln!(
                out,
                "\nCreated {} token `{}` ({}) for workspace `{}`. It is shown only this once.",
                record.role.as_str(),
                record.name,
                record.id,
                record.workspace
            )?;
        }
        TokenAction::List => {
            writeln!(
                out,
                "{:<36}  {:<12}  {:<7}  {:<24}  {:<16}  NAME",
                "ID", "WORKSPACE", "ROLE", "CREATED", "REVOKED"
            )?;
            for t in store.list_tokens().await? {
                writeln!(
                    out,
                    "{:<36}  {:<12}  {:<7}  {:<24}  {:<16}  {}",
                    t.record.id,
                    t.record.workspace,
                    t.record.role.as_str(),
                    t.created_at,
                    t.revoked_at.as_deref().unwrap_or("-"),
                    t.record.name
                )?;
            }
        }
        TokenAction::Revoke { id } => {
            if !store.revoke_token(&id).await? {
                bail!("no live token with id `{id}`");
            }
            writeln!(out, "Revoked token {id}.")?;
        }
    }
    Ok(())
}
