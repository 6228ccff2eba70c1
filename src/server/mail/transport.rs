//! Where a message goes: an SMTP server, or the outbox directory. Knows nothing of the
//! queue or the state (`mail` sends through it).

use super::templates::Message;
use crate::server::{
    config::{Config, SmtpSecurity, SmtpServer},
    db,
};
use anyhow::Context;
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    transport::smtp::authentication::Credentials,
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
};
use std::{fmt, path::PathBuf, time::Duration};
use tokio::sync::Notify;

/// Longest wait for an SMTP server.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

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
        let from = config
            .mail
            .from
            .clone()
            .context("the configuration names no sender (GATEHOUSE_MAIL_FROM)")?;
        let transport = match &config.mail.smtp {
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
            None => Transport::Outbox(config.mail.outbox.clone()),
        };
        Ok(Mailer {
            transport,
            from,
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

    /// Resolves when [`Mailer::wake`] is rung.
    pub(super) async fn woken(&self) {
        self.wake.notified().await;
    }

    pub(super) async fn deliver(
        &self,
        queued: &db::email::QueuedMail,
        message: &Message,
    ) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::is_development;
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
}
