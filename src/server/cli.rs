//! The command line of the server binary (docs/operations.md "Command line"). Every command checks
//! all of its input before it writes anything, and says what is wrong in one line.

use super::{
    admin,
    auth::{
        accounts::{self, AfterPasswordChange},
        sessions, two_factor,
    },
    clock::Clock,
    config::{Config, Settings},
    context::RequestCtx,
    db::{users, Db},
    startup,
    state::AppState,
};
use crate::{
    domain::{EmailAddress, Password, SecretString, Username},
    model::Role,
};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};

/// Gatehouse: accounts, sessions and roles for a Leptos app.
///
/// Every option is also read from the environment variable it names (and from `.env`).
#[derive(Parser)]
#[command(name = "gatehouse", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the site (the default): applies migrations, then listens on LEPTOS_SITE_ADDR.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input (one line).
    Create {
        /// The username (3–32 letters, digits, '_', '-', '.').
        #[arg(long)]
        username: String,
        /// none, user, admin or owner.
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// Give a user another role (the last owner can't be demoted).
    SetRole {
        /// The username.
        name: String,
        /// none, user, admin or owner.
        role: String,
    },
    /// Set a user's password, read from standard input, and sign them out everywhere.
    /// Also lifts a sign-in lock-out.
    SetPassword {
        /// The username.
        name: String,
    },
    /// Lift a user's sign-in lock-out (after repeated failed sign-ins).
    Unlock {
        /// The username.
        name: String,
    },
    /// Remove a user's two-factor sign-in and recovery codes, and sign them out
    /// everywhere (a lost phone and lost codes).
    #[command(name = "reset-2fa")]
    Reset2fa {
        /// The username.
        name: String,
    },
    /// List users (username order), optionally of one role; --json prints one JSON array.
    List {
        /// Only users with this role: none, user, admin or owner.
        #[arg(long)]
        role: Option<String>,
        /// Print JSON (for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user (the last owner can't be deleted); the audit trail keeps the name.
    Delete {
        /// The username.
        name: String,
    },
    /// End every session of a user.
    SignOut {
        /// The username.
        name: String,
    },
    /// Disable a user: every session ends, and no sign-in works until enabled again (or
    /// until --until).
    Disable {
        /// The username.
        name: String,
        /// Why (shown to admins only).
        #[arg(long)]
        reason: Option<String>,
        /// When it ends: a UTC date and time (2027-01-31T18:00) or a duration (7d).
        #[arg(long)]
        until: Option<String>,
    },
    /// Enable a disabled user again.
    Enable {
        /// The username.
        name: String,
    },
    /// Set a user's e-mail address. Without --verified a verification link is needed
    /// before mail (a password reset) goes to it; links sent earlier stop working.
    SetEmail {
        /// The username.
        name: String,
        /// The address.
        address: String,
        /// The operator vouches for the address: it counts as verified at once.
        #[arg(long)]
        verified: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Delete expired sessions now (the server also does it every hour).
    Purge,
    /// Insert COUNT unusable sessions for a user (load tests: a big sessions table).
    Seed {
        /// The user the sessions belong to.
        #[arg(long)]
        username: String,
        /// How many sessions to insert.
        #[arg(long)]
        count: u64,
    },
}

/// Runs one command to completion.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied ({})", db.kind());
            db.close().await;
            Ok(())
        }
        Command::User(command) => user(command, config).await,
        Command::Sessions(SessionsCommand::Purge) => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate().await?;
            let purged = sessions::purge_expired(&db, Clock::system().now_seconds()).await?;
            println!("{purged} expired sessions deleted");
            db.close().await;
            Ok(())
        }
        Command::Sessions(SessionsCommand::Seed { username, count }) => seed(config, &username, count).await,
    }
}

fn parse_role(raw: &str) -> anyhow::Result<Role> {
    raw.parse::<Role>().map_err(|e| anyhow::anyhow!("{e}"))
}

fn parse_username(raw: &str) -> anyhow::Result<Username> {
    Username::parse(raw).map_err(|e| anyhow::anyhow!("invalid username {raw:?}: {e}"))
}

/// Reads one line from standard input as the password; a prompt goes to the terminal.
fn read_password() -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (the input is not hidden; pipe it in to keep it off the screen): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!(
            "no password on standard input: pipe one line, e.g. `printf '%s\\n' \"$PASSWORD\" | gatehouse …`"
        );
    }
    Ok(SecretString::new(password))
}

/// The context of a command that changes accounts: pool (migrated), password hasher,
/// and the operator as the one acting.
async fn operator(config: Config) -> anyhow::Result<RequestCtx> {
    let options = startup::leptos_options()?;
    Ok(RequestCtx::operator(
        startup::build_command_state(config, options).await?,
    ))
}

async fn find_user(state: &AppState, name: &Username) -> anyhow::Result<users::UserRow> {
    let mut conn = state.db.conn().await?;
    users::find_by_key(conn.exec(), name.key())
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no user {:?}", name.as_str()))
}

async fn user(command: UserCommand, config: Config) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { username, role } => {
            let name = parse_username(&username)?;
            let role = parse_role(&role)?;
            let password = Password::parse(&read_password()?, &name, config.password_min_length)
                .map_err(|e| anyhow::anyhow!("password refused: {e}"))?;
            let ctx = operator(config).await?;
            let user = accounts::create_account(&ctx, &name, &password, role)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("created user {} (id {}) with role {role}", name.as_str(), user.id);
            ctx.state.db.close().await;
        }
        UserCommand::SetRole { name, role } => {
            let name = parse_username(&name)?;
            let role = parse_role(&role)?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            let changed = admin::change_role(&ctx, user.id, role)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            if changed.from == changed.to {
                println!("{} already has the role {}", changed.username, changed.to);
            } else {
                println!("{}: {} → {}", changed.username, changed.from, changed.to);
            }
            ctx.state.db.close().await;
        }
        UserCommand::SetPassword { name } => {
            let name = parse_username(&name)?;
            let password = Password::parse(&read_password()?, &name, config.password_min_length)
                .map_err(|e| anyhow::anyhow!("password refused: {e}"))?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?.to_session_user();
            let ended = accounts::replace_password(
                &ctx,
                &user,
                &password,
                "set by the command line",
                AfterPasswordChange::SignOutEverywhere,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            admin::unlock(&ctx, user.id)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("password set for {}; {ended} sessions signed out", user.username);
            ctx.state.db.close().await;
        }
        UserCommand::Reset2fa { name } => {
            let name = parse_username(&name)?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            let removed = two_factor::reset(&ctx, &user)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            if removed {
                println!(
                    "two-factor sign-in removed for {}; signed out everywhere",
                    user.username
                );
            } else {
                println!(
                    "{} had no two-factor sign-in; signed out everywhere",
                    user.username
                );
            }
            ctx.state.db.close().await;
        }
        UserCommand::SetEmail {
            name,
            address,
            verified,
        } => {
            let name = parse_username(&name)?;
            let email = EmailAddress::parse(&address).map_err(|e| anyhow::anyhow!("address refused: {e}"))?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            crate::server::auth::email::set_by_operator(&ctx, &user, &email, verified)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let state = if verified { "verified" } else { "not verified" };
            println!("e-mail address of {} set to {email} ({state})", user.username);
            ctx.state.db.close().await;
        }
        UserCommand::List { role, json } => {
            let role = role.as_deref().map(parse_role).transpose()?;
            let ctx = operator(config).await?;
            list_users(&ctx, role, json).await?;
            ctx.state.db.close().await;
        }
        UserCommand::Delete { name } => {
            let name = parse_username(&name)?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            let username = admin::delete_user(&ctx, user.id)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("deleted {username}");
            ctx.state.db.close().await;
        }
        UserCommand::SignOut { name } => {
            let name = parse_username(&name)?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            let (username, ended) = admin::sign_out_everywhere(&ctx, user.id)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!(
                "{username} signed out everywhere; {}",
                crate::model::sessions_ended(ended)
            );
            ctx.state.db.close().await;
        }
        UserCommand::Disable { name, reason, until } => {
            let name = parse_username(&name)?;
            let until = admin::parse_until(
                until.as_deref().unwrap_or_default(),
                Clock::system().now_seconds(),
            )
            .map_err(|e| anyhow::anyhow!("--until refused: {}", e.message))?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            let done = admin::set_disabled(&ctx, user.id, Some((until, reason.as_deref())))
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let until = until.map_or("until enabled".to_owned(), |at| {
                format!("until {}", crate::model::format_datetime(at))
            });
            println!(
                "{} is disabled {until}; {}",
                done.username,
                crate::model::sessions_ended(done.ended)
            );
            ctx.state.db.close().await;
        }
        UserCommand::Enable { name } => {
            let name = parse_username(&name)?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            let done = admin::set_disabled(&ctx, user.id, None)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("{} can sign in again", done.username);
            ctx.state.db.close().await;
        }
        UserCommand::Unlock { name } => {
            let name = parse_username(&name)?;
            let ctx = operator(config).await?;
            let user = find_user(&ctx.state, &name).await?;
            let outcome = admin::unlock(&ctx, user.id)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("{outcome}");
            ctx.state.db.close().await;
        }
    }
    Ok(())
}

/// A user as `gatehouse user list --json` prints it.
#[derive(serde::Serialize)]
struct Listed {
    id: i64,
    username: String,
    role: String,
    created_at: i64,
    last_seen_at: Option<i64>,
    password: bool,
    github: bool,
    google: bool,
    two_factor: bool,
    disabled: bool,
}

/// Prints every user (of `role`, when given), a page of the admin search at a time.
async fn list_users(ctx: &RequestCtx, role: Option<Role>, json: bool) -> anyhow::Result<()> {
    const PAGE: i64 = 1000;
    let now = ctx.now();
    let mut listed = Vec::new();
    let mut conn = ctx.state.db.conn().await?;
    for page in 0.. {
        let rows = users::search(conn.exec(), "", false, PAGE, page * PAGE, now).await?;
        let done = i64::try_from(rows.len()).unwrap_or(0) < PAGE;
        listed.extend(
            rows.into_iter()
                .filter(|row| role.is_none_or(|r| r.as_str() == row.role))
                .map(|row| Listed {
                    disabled: row.disabled_at.is_some() && row.disabled_until.is_none_or(|until| until > now),
                    id: row.id,
                    username: row.username,
                    role: row.role,
                    created_at: row.created_at,
                    last_seen_at: row.last_seen_at,
                    password: row.has_password != 0,
                    github: row.has_github != 0,
                    google: row.has_google != 0,
                    two_factor: row.two_factor != 0,
                }),
        );
        if done {
            break;
        }
    }
    drop(conn);
    if json {
        println!("{}", serde_json::to_string(&listed)?);
        return Ok(());
    }
    println!(
        "{:<32}  {:<6}  {:<10}  {:<17}  STATE",
        "USERNAME", "ROLE", "CREATED", "LAST SEEN"
    );
    for user in &listed {
        let mut state = Vec::new();
        if user.disabled {
            state.push("disabled");
        }
        if user.two_factor {
            state.push("two-factor");
        }
        println!(
            "{:<32}  {:<6}  {:<10}  {:<17}  {}",
            user.username,
            user.role,
            crate::model::format_date(user.created_at),
            user.last_seen_at
                .map_or("never".to_owned(), |at| crate::model::format_datetime(at)
                    .replace(" UTC", "")),
            state.join(", ")
        );
    }
    Ok(())
}

/// Inserts `count` sessions whose tokens nobody knows (their ids are random, not the
/// hash of any token handed out). Rows go in multi-row statements, many statements per
/// transaction: with random keys each commit rewrites pages all over the table's
/// B-trees, so fewer, larger commits are what makes a million rows quick.
async fn seed(config: Config, username: &str, count: u64) -> anyhow::Result<()> {
    /// Rows per INSERT (6 parameters each, under SQLite's 32,766-parameter limit).
    const ROWS_PER_STATEMENT: u64 = 4_000;
    /// Rows per transaction.
    const ROWS_PER_COMMIT: u64 = 100_000;
    /// Page cache of the seeding connection on SQLite, in KiB (the server's is 4 MiB).
    const SEED_CACHE_KIB: u32 = 256 * 1024;
    let name = parse_username(username)?;
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let user_id = {
        let mut conn = db.conn().await?;
        users::find_by_key(conn.exec(), name.key())
            .await?
            .ok_or_else(|| anyhow::anyhow!("there is no user {:?}", name.as_str()))?
            .id
    };
    let started = std::time::Instant::now();
    let now = Clock::system().now_seconds();
    let expires = now + 30 * 86_400;
    let mut done = 0;
    while done < count {
        let mut tx = db.begin().await?;
        // Per transaction: each may run on a different connection of the pool.
        super::db::enlarge_page_cache(tx.exec(), SEED_CACHE_KIB).await?;
        let commit_end = (done + ROWS_PER_COMMIT).min(count);
        while done < commit_end {
            let n = ROWS_PER_STATEMENT.min(commit_end - done);
            let rows: Vec<_> = (0..n)
                .map(|_| {
                    let id: [u8; 32] = rand::random();
                    let handle: [u8; 12] = rand::random();
                    (hex::encode(id), hex::encode(handle), user_id, now, expires)
                })
                .collect();
            super::db::sessions::insert_many(tx.exec(), &rows).await?;
            done += n;
        }
        tx.commit().await?;
    }
    // Leave the rows in the database file, not in a log of a few hundred MiB (it
    // measurably slows session validation).
    db.checkpoint().await?;
    println!(
        "{count} sessions inserted for {} in {:.1} s",
        name.as_str(),
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let options = startup::leptos_options()?;
    let addr = options.site_addr;
    let state = startup::build_state(config, options).await?;
    let maintenance = startup::spawn_maintenance(state.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(
        address = %format!("http://{addr}"),
        database = state.db.kind(),
        public_url = %state.config.public_origin,
        "Gatehouse is listening"
    );
    if !state.config.passkeys {
        tracing::warn!(
            public_url = %state.config.public_origin,
            "passkeys are off: WebAuthn needs a domain name (localhost counts), never an IP address, \
             as GATEHOUSE_PUBLIC_URL"
        );
    }
    if state.mailer.is_outbox() && state.config.https {
        // A site on https is meant for people: none of them will get a verification or
        // reset link. Said as an error, every start-up, until it is fixed.
        tracing::error!(
            outbox = %state.config.mail.outbox.display(),
            "NO MAIL IS SENT: GATEHOUSE_SMTP_URL is not set, so every message (verification \
             and reset links, security notices) is only written to the outbox directory and \
             nobody receives it; set GATEHOUSE_SMTP_URL"
        );
    }
    let db = state.db.clone();
    startup::serve(listener, startup::router(state), startup::shutdown_signal()).await?;
    maintenance.abort();
    db.close().await;
    Ok(())
}
