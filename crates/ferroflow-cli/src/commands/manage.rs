//! `ferroflow users|groups|tokens|grants ...`: the management API of a server running with
//! `--auth`, from the shell. Listings print the server's JSON; changes print one line saying what
//! was done.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{bail, Context as _};
use reqwest::Method;
use serde_json::{json, Value};

use super::remote::Remote;
use crate::args::{GrantsCommand, GroupsCommand, Managed, Principal, TokensCommand, UsersCommand};

fn print(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The first line of standard input, which must not be a terminal (the input would show).
fn password_from_stdin(username: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!(
            "the password for '{username}' is read from standard input; pipe it in, e.g. \
             `printf '%s' \"$PASSWORD\" | ferroflow users ...`"
        );
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("could not read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

/// `ferroflow users ...`
pub async fn users(managed: Managed<UsersCommand>) -> anyhow::Result<()> {
    let remote = Remote::new(&managed.server)?;
    match managed.command {
        UsersCommand::List => print(&remote.call(Method::GET, "mlflow/users/list", json!({})).await?)?,
        UsersCommand::Get { username } => {
            print(&remote.call(Method::GET, "mlflow/users/get", json!({ "username": username })).await?)?;
        }
        UsersCommand::Create { username } => {
            let password = password_from_stdin(&username)?;
            remote
                .call(Method::POST, "mlflow/users/create", json!({ "username": username, "password": password }))
                .await?;
            println!("created user '{username}'");
        }
        UsersCommand::SetPassword { username } => {
            let password = password_from_stdin(&username)?;
            let fields = json!({ "username": username, "password": password });
            remote.call(Method::PATCH, "mlflow/users/update-password", fields).await?;
            println!("changed the password of '{username}'");
        }
        UsersCommand::SetAdmin { username, is_admin } => {
            let fields = json!({ "username": username, "is_admin": is_admin });
            remote.call(Method::PATCH, "mlflow/users/update-admin", fields).await?;
            println!("'{username}' is {}an admin", if is_admin { "" } else { "no longer " });
        }
        UsersCommand::Delete { username } => {
            remote.call(Method::DELETE, "mlflow/users/delete", json!({ "username": username })).await?;
            println!("deleted user '{username}'");
        }
    }
    Ok(())
}

/// `ferroflow groups ...`
pub async fn groups(managed: Managed<GroupsCommand>) -> anyhow::Result<()> {
    let remote = Remote::new(&managed.server)?;
    match managed.command {
        GroupsCommand::List => print(&remote.call(Method::GET, "ferroflow/groups", json!({})).await?)?,
        GroupsCommand::Create { name, description } => {
            remote.call(Method::POST, "ferroflow/groups", json!({ "name": name, "description": description })).await?;
            println!("created group '{name}'");
        }
        GroupsCommand::Delete { name } => {
            remote.call(Method::POST, "ferroflow/groups/delete", json!({ "name": name })).await?;
            println!("deleted group '{name}'");
        }
        GroupsCommand::AddMember { group, username } => {
            let fields = json!({ "group": group, "username": username });
            remote.call(Method::POST, "ferroflow/groups/members/add", fields).await?;
            println!("added '{username}' to group '{group}'");
        }
        GroupsCommand::RemoveMember { group, username } => {
            let fields = json!({ "group": group, "username": username });
            remote.call(Method::POST, "ferroflow/groups/members/remove", fields).await?;
            println!("removed '{username}' from group '{group}'");
        }
    }
    Ok(())
}

/// `ferroflow tokens ...`
pub async fn tokens(managed: Managed<TokensCommand>) -> anyhow::Result<()> {
    let remote = Remote::new(&managed.server)?;
    match managed.command {
        TokensCommand::List { username } => {
            print(&remote.call(Method::GET, "ferroflow/tokens", json!({ "username": username })).await?)?;
        }
        TokensCommand::Create { name, username, expires_in_days } => {
            let fields = json!({ "name": name, "username": username, "expires_in_days": expires_in_days });
            let created = remote.call(Method::POST, "ferroflow/tokens", fields).await?;
            let token = created.get("token").and_then(Value::as_str).context("the server answered no token")?;
            let id = created.pointer("/token_info/id").and_then(Value::as_str).unwrap_or("?");
            // The token alone on standard output, so `TOKEN=$(ferroflow tokens create ci)` works.
            println!("{token}");
            eprintln!("token '{name}' (id {id}) created; it is shown only this once");
        }
        TokensCommand::Revoke { id } => {
            remote.call(Method::POST, "ferroflow/tokens/revoke", json!({ "id": id })).await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}

fn principal_fields(principal: &Principal) -> anyhow::Result<(&'static str, &str)> {
    match (&principal.user, &principal.group) {
        (Some(user), None) => Ok(("user", user)),
        (None, Some(group)) => Ok(("group", group)),
        _ => bail!("name the grant's holder with either --user or --group"),
    }
}

/// `ferroflow grants ...`
pub async fn grants(managed: Managed<GrantsCommand>) -> anyhow::Result<()> {
    let remote = Remote::new(&managed.server)?;
    match managed.command {
        GrantsCommand::List { resource_type, resource_id } => {
            let fields = json!({ "resource_type": resource_type, "resource_id": resource_id });
            print(&remote.call(Method::GET, "ferroflow/grants", fields).await?)?;
        }
        GrantsCommand::Set { resource_type, resource_id, permission, principal } => {
            let (kind, name) = principal_fields(&principal)?;
            let fields = json!({
                "resource_type": resource_type,
                "resource_id": resource_id,
                "principal_kind": kind,
                "principal": name,
                "permission": permission,
            });
            remote.call(Method::POST, "ferroflow/grants", fields).await?;
            println!("granted {permission} on {resource_type} '{resource_id}' to {kind} '{name}'");
        }
        GrantsCommand::Delete { resource_type, resource_id, principal } => {
            let (kind, name) = principal_fields(&principal)?;
            let fields = json!({
                "resource_type": resource_type,
                "resource_id": resource_id,
                "principal_kind": kind,
                "principal": name,
            });
            remote.call(Method::POST, "ferroflow/grants/delete", fields).await?;
            println!("removed the grant of {kind} '{name}' on {resource_type} '{resource_id}'");
        }
    }
    Ok(())
}
