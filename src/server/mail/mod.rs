//! Sending e-mail (docs/email.md "E-mail").
//!
//! A request never talks to an SMTP server: it queues the message in `mail_queue`, in
//! the same transaction as whatever the message is about, and a background task of each
//! server instance sends what is due. A message leaves the queue only once it is sent,
//! so a restart or an unreachable server delays it and loses nothing; failures are
//! retried with a growing wait (30 s doubling, at most an hour) for three days.
//!
//! The queued message is sealed with the server key: a copy of the database does not
//! hand out the reset links waiting in it. Without `GATEHOUSE_SMTP_URL` each message is
//! written to `GATEHOUSE_MAIL_OUTBOX` as an `.eml` file and its link is logged, so a
//! development set-up needs no mail server.

pub mod templates;

use crate::server::{
    config::{Config, SmtpSecurity, SmtpServer},
    db::{self, Exec},
    keys::Purpose,
    state::AppState,
};
use anyhow::Context;
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    transport::smtp::authentication::Credentials,
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
};
use std::{fmt, path::PathBuf, time::Duration};
pub use templates::{Message, Template};
use tokio::sync::Notify;

/// How long a message is tried before it is given up (links expire long before).
const GIVE_UP_AFTER_SECONDS: i64 = 3 * 24 * 3600;
/// Longest wait between two attempts.
const MAX_RETRY_SECONDS: i64 = 3600;
/// How long an instance holds a message it is sending (longer than an SMTP timeout).
const LEASE_SECONDS: i64 = 120;
/// Longest wait for an SMTP server.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the queue is looked at when nothing woke the sender.
const POLL: Duration = Duration::from_secs(2);
/// What sealed messages are bound to.
const SEAL_CONTEXT: &[u8] = b"mail queue";
/// How long a message this instance cannot open waits before it is looked at again
/// (meanwhile an instance that holds its key takes it).
const UNDECRYPTABLE_WAIT_SECONDS: i64 = 60;

/// Where messages go.
enum Transport {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        shown: String,
    },
    Outbox(PathBuf),
}

/// The sending side: the transport, the sender, and the bell a request rings after
/// queueing a message.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    wake: Notify,
    /// Development (no SMTP, a plain-http public URL on this machine): the outbox's
    /// links are logged, which is what a developer needs. Anywhere else a link in a log
    /// is a credential in a log, so it is not.
    log_links: bool,
}

/// True for a set-up where logging the outbox's links is safe and useful: a public URL
/// over plain http on this machine (`localhost` or a loopback address).
fn is_development(config: &Config) -> bool {
    let host = config.public_host.trim_start_matches('[').trim_end_matches(']');
    !config.https
        && (host.eq_ignore_ascii_case("localhost")
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("to", &self.describe())
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Mailer> {
        let transport = match &config.smtp {
            Some(server) => Transport::Smtp {
                transport: smtp_transport(server)?,
                shown: format!(
                    "SMTP {}:{} ({})",
                    server.host,
                    server.port,
                    match server.security {
                        SmtpSecurity::Plain => "no TLS",
                        SmtpSecurity::StartTls => "STARTTLS",
                        SmtpSecurity::Tls => "TLS",
                    }
                ),
            },
            None => Transport::Outbox(config.mail_outbox.clone()),
        };
        Ok(Mailer {
            transport,
            from: config.mail_from.clone(),
            wake: Notify::new(),
            log_links: is_development(config),
        })
    }

    /// Where messages go, for the start-up log.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp { shown, .. } => shown.clone(),
            Transport::Outbox(dir) => format!("the outbox directory {}", dir.display()),
        }
    }

    /// True when messages go to the outbox directory (no SMTP server configured).
    pub fn is_outbox(&self) -> bool {
        matches!(self.transport, Transport::Outbox(_))
    }

    /// Tells the sender a message was queued (call after the transaction committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn deliver(&self, queued: &db::email::QueuedMail, message: &Message) -> anyhow::Result<()> {
        let to: Mailbox = queued
            .recipient
            .parse()
            .with_context(|| format!("the stored recipient of message {} is not an address", queued.id))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(message.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(message.html.clone()),
                    ),
            )
            .context("build the message")?;
        match &self.transport {
            Transport::Smtp { transport, .. } => {
                transport.send(email).await.context("SMTP")?;
                tracing::info!(id = queued.id, kind = %queued.kind, "message sent");
            }
            Transport::Outbox(dir) => {
                let path = write_to_outbox(dir, queued, &email.formatted()).await?;
                if self.log_links {
                    tracing::info!(
                        to = %queued.recipient,
                        subject = %message.subject,
                        file = %path.display(),
                        link = message.link.as_deref().unwrap_or("-"),
                        "message written to the outbox (no SMTP server configured): open the link to follow it"
                    );
                } else {
                    tracing::info!(
                        to = %queued.recipient,
                        subject = %message.subject,
                        file = %path.display(),
                        "message written to the outbox (no SMTP server configured); its link is not logged \
                         outside development"
                    );
                }
            }
        }
        Ok(())
    }
}

/// Writes a message into the outbox directory, readable by the server's user alone
/// (the directory 0700, the file 0600: it may hold a reset link). Written under another
/// name first, so a reader never sees half a message. Answers its path.
async fn write_to_outbox(
    dir: &std::path::Path,
    queued: &db::email::QueuedMail,
    bytes: &[u8],
) -> anyhow::Result<PathBuf> {
    use tokio::io::AsyncWriteExt;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("create the outbox {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o700);
        tokio::fs::set_permissions(dir, private)
            .await
            .with_context(|| format!("make the outbox {} private", dir.display()))?;
    }
    let name = format!("{}-{}-{}.eml", queued.created_at, queued.id, queued.kind);
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(&partial)
        .await
        .with_context(|| format!("write {}", partial.display()))?;
    file.write_all(bytes)
        .await
        .with_context(|| format!("write {}", partial.display()))?;
    file.flush()
        .await
        .with_context(|| format!("write {}", partial.display()))?;
    drop(file);
    tokio::fs::rename(&partial, &path)
        .await
        .with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

fn smtp_transport(server: &SmtpServer) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder = match server.security {
        SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host),
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&server.host)
            .context("GATEHOUSE_SMTP_URL: STARTTLS set-up")?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&server.host)
            .context("GATEHOUSE_SMTP_URL: TLS set-up")?,
    };
    let builder = builder.port(server.port).timeout(Some(SMTP_TIMEOUT));
    let builder = match &server.credentials {
        Some((user, password)) => builder.credentials(Credentials::new(user.clone(), password.clone())),
        None => builder,
    };
    Ok(builder.build())
}

/// Queues `template` for `to` in the caller's transaction: it is sent only if that
/// commits. Ring [`Mailer::wake`] after the commit.
pub async fn queue(ex: Exec<'_>, state: &AppState, to: &str, template: &Template<'_>) -> anyhow::Result<()> {
    let message = template.render(&state.config.app_name, &state.config.public_origin);
    let json = serde_json::to_vec(&message).context("serialise a message")?;
    let sealed = state.keys.seal(Purpose::QueuedMail, SEAL_CONTEXT, &json);
    db::email::enqueue(
        ex,
        &db::email::NewMail {
            recipient: to,
            kind: template.kind(),
            sealed: &sealed,
            now: state.clock.now_seconds(),
        },
    )
    .await
}

/// The wait before the next attempt after `attempts` failed ones: 30 s, doubling, at
/// most an hour.
fn retry_after(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
    (30i64 << doublings).min(MAX_RETRY_SECONDS)
}

/// Sends every message that is due; answers how many went out.
pub async fn send_due(state: &AppState) -> anyhow::Result<usize> {
    let mut sent = 0;
    loop {
        let now = state.clock.now_seconds();
        let mut conn = state.db.conn().await?;
        let Some(queued) = db::email::claim(conn.exec(), now, LEASE_SECONDS).await? else {
            return Ok(sent);
        };
        drop(conn);
        let opened = state
            .keys
            .open(Purpose::QueuedMail, SEAL_CONTEXT, &queued.sealed)
            .and_then(|json| serde_json::from_slice::<Message>(&json).ok());
        let Some(message) = opened else {
            // Sealed with a key this instance does not hold (during a key rotation, an
            // instance with only the old key meets what new-key instances queued): never
            // destroyed, it waits for an instance that holds the key.
            tracing::error!(id = queued.id, kind = %queued.kind,
                "a queued message does not open with this instance's keys: it stays queued for \
                 an instance that holds its key (is GATEHOUSE_SECRET_KEY the same on every instance?)");
            let mut conn = state.db.conn().await?;
            let later = now + UNDECRYPTABLE_WAIT_SECONDS;
            db::email::retry_later(conn.exec(), queued.id, later, db::email::UNDECRYPTABLE).await?;
            continue;
        };
        let outcome = state.mailer.deliver(&queued, &message).await;
        let mut conn = state.db.conn().await?;
        match outcome {
            Ok(()) => {
                db::email::remove(conn.exec(), queued.id).await?;
                sent += 1;
            }
            Err(e) if now - queued.created_at > GIVE_UP_AFTER_SECONDS => {
                tracing::error!(id = queued.id, kind = %queued.kind, attempts = queued.attempts,
                    error = format!("{e:#}"), "message given up");
                db::email::remove(conn.exec(), queued.id).await?;
            }
            Err(e) => {
                let wait = retry_after(queued.attempts);
                tracing::warn!(id = queued.id, kind = %queued.kind, attempts = queued.attempts,
                    retry_in_seconds = wait, error = format!("{e:#}"), "message not sent; it stays queued");
                let error: String = format!("{e:#}").chars().take(500).collect();
                db::email::retry_later(conn.exec(), queued.id, now + wait, &error).await?;
                // The server is unreachable now: the others wait for their own turn.
                return Ok(sent);
            }
        }
    }
}

/// The sender of a running server: sends what is due when woken, and every few seconds
/// otherwise; stops when the database is closed.
pub fn spawn_sender(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(to = %state.mailer.describe(), "mail sender started");
        match state.db.conn().await {
            Ok(mut conn) => {
                if let Err(e) = db::email::due_now(conn.exec(), state.clock.now_seconds()).await {
                    tracing::warn!(error = format!("{e:#}"), "mail queue not readable");
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "mail queue not readable"),
        }
        while !state.db.is_closed() {
            if let Err(e) = send_due(&state).await {
                if state.db.is_closed() {
                    break;
                }
                tracing::warn!(error = format!("{e:#}"), "mail queue not readable");
            }
            tokio::select! {
                () = state.mailer.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{is_development, retry_after};
    use crate::server::config::Config;

    fn config(public_url: &str) -> Config {
        let vars = [
            ("DATABASE_URL", "sqlite::memory:"),
            ("GATEHOUSE_PUBLIC_URL", public_url),
        ];
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("configuration")
    }

    #[test]
    fn links_are_logged_only_for_a_plain_http_site_on_this_machine() {
        assert!(is_development(&config("http://localhost:3000")));
        assert!(is_development(&config("http://127.0.0.1:3000")));
        assert!(is_development(&config("http://[::1]:3000")));
        assert!(!is_development(&config("https://localhost")));
        assert!(!is_development(&config("https://auth.example.com")));
        assert!(!is_development(&config("http://auth.example.com")));
        assert!(!is_development(&config("http://192.0.2.10:3000")));
    }

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(1), 30);
        assert_eq!(retry_after(2), 60);
        assert_eq!(retry_after(3), 120);
        assert_eq!(retry_after(8), 3600);
        assert_eq!(retry_after(1000), 3600);
        assert_eq!(retry_after(0), 30);
    }
}
