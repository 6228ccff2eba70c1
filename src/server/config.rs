//! Typed configuration, read once at start-up from the environment (and `.env`).
//!
//! [`Settings`] declares every variable to clap (`gatehouse --help` lists them with
//! their defaults); [`Settings::validate`] adds the checks that span several variables
//! and gives the [`Config`] the rest of the server reads.

use super::{keys::SecretKey, telemetry::LogFormat};
use crate::{
    domain::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS},
    model::{Role, SignupEmail},
};
use clap::{error::ContextKind, ArgAction, Args, CommandFactory, FromArgMatches};
use std::{fmt, time::Duration};
use url::Url;

/// Everything Gatehouse can be told from outside, checked (see the README's
/// "Configuration").
#[derive(Clone, Debug)]
pub struct Config {
    /// The app's name as people see it: titles, navigation, error pages, mail, the
    /// authenticator app's entry; the session cookie is named after it.
    pub app_name: String,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// The origin the site is served from, without a trailing slash (`https://example.com`).
    pub public_origin: String,
    /// The host name of the public URL (lowercase): a GET under another name is sent here.
    pub public_host: String,
    /// True when the public URL is https: `Secure` + `__Host-` cookies and HSTS.
    pub https: bool,
    /// Passkeys are offered: the public URL names a domain (WebAuthn refuses an IP
    /// address as relying-party id).
    pub passkeys: bool,
    pub session: SessionPolicy,
    pub password_min_length: usize,
    pub default_role: Role,
    pub trust_proxy: bool,
    pub limits: Limits,
    pub github: Option<OAuthClient>,
    pub google: Option<OAuthClient>,
    /// Longest wait for an OAuth provider's token or user endpoint.
    pub oauth_timeout: Duration,
    /// Memory for rendered pages kept for reuse (`0`: render every page afresh).
    pub page_cache_bytes: u64,
    /// The server key; unset, it comes from next to the SQLite file (see `keys`).
    pub secret_key: Option<SecretKey>,
    /// A key still accepted for opening (rotation).
    pub secret_key_previous: Option<SecretKey>,
    /// How long a sign-in (or a confirmation on `/reauth`) counts as recent enough to
    /// change credentials.
    pub reauth_window: Duration,
    /// How long audit events are kept.
    pub audit_retention: Duration,
    /// Users at or above this role must turn two-factor sign-in on (`None`: nobody).
    pub require_2fa: Option<Role>,
    pub mail: Mail,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// The range API new passwords are checked against (`None`: the check is off).
    pub breached_passwords: Option<Url>,
    /// The bearer token of `GET /metrics` (`None`: no such route).
    pub metrics_token: Option<super::metrics::MetricsToken>,
}

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// None at all: a local sink or relay (`smtp://host:port`).
    Plain,
    /// Upgraded with STARTTLS, which must succeed (`smtp://…?tls=starttls`).
    StartTls,
    /// TLS from the first byte (`smtps://…`, usually port 465).
    Tls,
}

/// The SMTP server of `GATEHOUSE_SMTP_URL`. Its `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, String)>,
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

/// Session lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Args)]
pub struct SessionPolicy {
    /// Lifetime of a session since its last renewal (30d, 12h, 15m, 10s …).
    #[arg(long = "session-ttl", env = "GATEHOUSE_SESSION_TTL", value_name = "GATEHOUSE_SESSION_TTL",
          default_value = "30d", value_parser = duration)]
    pub ttl: Duration,
    /// Renew a session when less than this is left.
    #[arg(long = "session-renew-within", env = "GATEHOUSE_SESSION_RENEW_WITHIN",
          value_name = "GATEHOUSE_SESSION_RENEW_WITHIN", default_value = "15d", value_parser = duration)]
    pub renew_within: Duration,
    /// Hard cap from sign-in; renewal never passes it.
    #[arg(long = "session-absolute", env = "GATEHOUSE_SESSION_ABSOLUTE",
          value_name = "GATEHOUSE_SESSION_ABSOLUTE", default_value = "90d", value_parser = duration)]
    pub absolute: Duration,
    /// Lifetime of an administrator's "view as" session (at most 1h; never renewed).
    #[arg(long = "view-as-ttl", env = "GATEHOUSE_VIEW_AS_TTL", value_name = "GATEHOUSE_VIEW_AS_TTL",
          default_value = "1h", value_parser = view_as_duration)]
    pub view_as: Duration,
}

/// Where mail goes and from whom, as one group of variables (the server reads it as it
/// is: `config.mail`).
#[derive(Clone, Debug, Args)]
pub struct Mail {
    /// Whether /signup asks for an e-mail address: off, optional or required.
    #[arg(long = "signup-email", env = "GATEHOUSE_SIGNUP_EMAIL", value_name = "GATEHOUSE_SIGNUP_EMAIL",
          default_value = "optional", value_parser = signup_email)]
    pub signup_email: SignupEmail,
    /// The SMTP server: smtp://host:port (plain, a local sink), smtp://user:pass@host:587?tls=starttls,
    /// smtps://user:pass@host:465. Unset: messages are written to GATEHOUSE_MAIL_OUTBOX.
    #[arg(long = "smtp-url", env = "GATEHOUSE_SMTP_URL", value_name = "GATEHOUSE_SMTP_URL",
          hide_env_values = true, value_parser = smtp_url)]
    pub smtp: Option<SmtpServer>,
    /// The sender of every message, e.g. "Example <accounts@example.com>". Default:
    /// Gatehouse <noreply@HOST> for the public URL's host name (set by the time the
    /// configuration is validated).
    #[arg(long = "mail-from", env = "GATEHOUSE_MAIL_FROM", value_name = "GATEHOUSE_MAIL_FROM",
          value_parser = mailbox)]
    pub from: Option<lettre::message::Mailbox>,
    /// Where messages are written as .eml files when no SMTP server is set.
    #[arg(
        long = "mail-outbox",
        env = "GATEHOUSE_MAIL_OUTBOX",
        value_name = "GATEHOUSE_MAIL_OUTBOX",
        default_value = "outbox"
    )]
    pub outbox: std::path::PathBuf,
}

/// Every limit on how often something may be tried or asked for, as one group of
/// variables (the server reads it as it is: `config.limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Args)]
pub struct Limits {
    /// Failures before a username is locked with back-off.
    #[arg(long, env = "GATEHOUSE_LOGIN_MAX_FAILURES", value_name = "GATEHOUSE_LOGIN_MAX_FAILURES",
          default_value_t = 5, value_parser = number::<u32>(1, 1000))]
    pub login_max_failures: u32,
    /// Sign-in attempts per client address, N/DURATION.
    #[arg(long, env = "GATEHOUSE_RATE_SIGNIN", value_name = "GATEHOUSE_RATE_SIGNIN",
          default_value = "30/1m", value_parser = rate)]
    pub rate_signin: Rate,
    /// Sign-ups per client address, N/DURATION.
    #[arg(long, env = "GATEHOUSE_RATE_SIGNUP", value_name = "GATEHOUSE_RATE_SIGNUP",
          default_value = "10/1h", value_parser = rate)]
    pub rate_signup: Rate,
    /// Messages per recipient address, N/DURATION.
    #[arg(long, env = "GATEHOUSE_RATE_MAIL_ADDRESS", value_name = "GATEHOUSE_RATE_MAIL_ADDRESS",
          default_value = "5/1h", value_parser = rate)]
    pub rate_mail_address: Rate,
    /// Messages asked for per client address (forgotten passwords, resends), N/DURATION.
    #[arg(long, env = "GATEHOUSE_RATE_MAIL_IP", value_name = "GATEHOUSE_RATE_MAIL_IP",
          default_value = "20/1h", value_parser = rate)]
    pub rate_mail_ip: Rate,
}

/// `N` events per `per`, as in `30/1m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

/// One OAuth provider's client registration and endpoints.
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: Url,
    pub token_url: Url,
    /// GitHub: the API base (`https://api.github.com`); Google: the userinfo endpoint.
    pub api_url: Url,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("auth_url", &self.auth_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("api_url", &self.api_url.as_str())
            .finish()
    }
}

/// The environment as clap reads it: every variable, its default and its own check.
/// (Not `Debug`: it holds the OAuth client secrets.)
#[derive(Clone, Args)]
pub struct Settings {
    /// The app's name (titles, navigation, error pages, mail; the session cookie is
    /// named after it).
    #[arg(long, env = "GATEHOUSE_APP_NAME", value_name = "GATEHOUSE_APP_NAME",
          default_value = crate::model::DEFAULT_APP_NAME, value_parser = app_name)]
    app_name: String,
    /// Where the data lives: sqlite://… (embedded) or postgres://… (several instances).
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL",
          default_value = "sqlite://gatehouse.db?mode=rwc", value_parser = database_url)]
    database_url: String,
    /// The origin users reach the site at (CSRF checks, OAuth redirect URIs); https://
    /// turns on Secure + __Host- cookies and HSTS.
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL", value_name = "GATEHOUSE_PUBLIC_URL",
          default_value = "http://localhost:3000", value_parser = public_url)]
    public_url: Url,
    #[command(flatten)]
    session: SessionPolicy,
    /// Minimum password length (8 to 256).
    #[arg(long, env = "GATEHOUSE_PASSWORD_MIN_LENGTH", value_name = "GATEHOUSE_PASSWORD_MIN_LENGTH",
          default_value_t = PASSWORD_MIN_CHARS,
          value_parser = number::<usize>(PASSWORD_MIN_CHARS as u64, PASSWORD_MAX_CHARS as u64))]
    password_min_length: usize,
    /// Role of new sign-ups: user, or none (an admin then lets people in).
    #[arg(long, env = "GATEHOUSE_DEFAULT_ROLE", value_name = "GATEHOUSE_DEFAULT_ROLE",
          default_value = "user", value_parser = sign_up_role)]
    default_role: Role,
    /// Take the client IP from X-Forwarded-For (behind a reverse proxy only).
    #[arg(long, env = "GATEHOUSE_TRUST_PROXY", value_name = "GATEHOUSE_TRUST_PROXY",
          default_value = "false", action = ArgAction::Set, value_parser = yes_or_no)]
    trust_proxy: bool,
    #[command(flatten)]
    limits: Limits,
    /// GitHub OAuth app: client id (GitHub sign-in is on when id and secret are set).
    #[arg(long, env = "GITHUB_CLIENT_ID", value_name = "GITHUB_CLIENT_ID")]
    github_client_id: Option<String>,
    /// GitHub OAuth app: client secret.
    #[arg(
        long,
        env = "GITHUB_CLIENT_SECRET",
        value_name = "GITHUB_CLIENT_SECRET",
        hide_env_values = true
    )]
    github_client_secret: Option<String>,
    /// GitHub's authorize endpoint.
    #[arg(long, env = "GATEHOUSE_GITHUB_AUTH_URL", value_name = "GATEHOUSE_GITHUB_AUTH_URL",
          default_value = "https://github.com/login/oauth/authorize", value_parser = web_url)]
    github_auth_url: Url,
    /// GitHub's token endpoint.
    #[arg(long, env = "GATEHOUSE_GITHUB_TOKEN_URL", value_name = "GATEHOUSE_GITHUB_TOKEN_URL",
          default_value = "https://github.com/login/oauth/access_token", value_parser = web_url)]
    github_token_url: Url,
    /// GitHub's API base.
    #[arg(long, env = "GATEHOUSE_GITHUB_API_URL", value_name = "GATEHOUSE_GITHUB_API_URL",
          default_value = "https://api.github.com", value_parser = web_url)]
    github_api_url: Url,
    /// Google OAuth client: client id (Google sign-in is on when id and secret are set).
    #[arg(long, env = "GOOGLE_CLIENT_ID", value_name = "GOOGLE_CLIENT_ID")]
    google_client_id: Option<String>,
    /// Google OAuth client: client secret.
    #[arg(
        long,
        env = "GOOGLE_CLIENT_SECRET",
        value_name = "GOOGLE_CLIENT_SECRET",
        hide_env_values = true
    )]
    google_client_secret: Option<String>,
    /// Google's authorize endpoint.
    #[arg(long, env = "GATEHOUSE_GOOGLE_AUTH_URL", value_name = "GATEHOUSE_GOOGLE_AUTH_URL",
          default_value = "https://accounts.google.com/o/oauth2/v2/auth", value_parser = web_url)]
    google_auth_url: Url,
    /// Google's token endpoint.
    #[arg(long, env = "GATEHOUSE_GOOGLE_TOKEN_URL", value_name = "GATEHOUSE_GOOGLE_TOKEN_URL",
          default_value = "https://oauth2.googleapis.com/token", value_parser = web_url)]
    google_token_url: Url,
    /// Google's userinfo endpoint.
    #[arg(long, env = "GATEHOUSE_GOOGLE_USERINFO_URL", value_name = "GATEHOUSE_GOOGLE_USERINFO_URL",
          default_value = "https://openidconnect.googleapis.com/v1/userinfo", value_parser = web_url)]
    google_userinfo_url: Url,
    /// Longest wait for a provider's token or user endpoint.
    #[arg(long, env = "GATEHOUSE_OAUTH_TIMEOUT", value_name = "GATEHOUSE_OAUTH_TIMEOUT",
          default_value = "10s", value_parser = duration)]
    oauth_timeout: Duration,
    /// Memory for rendered pages kept for reuse, in MiB (0: render every page).
    #[arg(long, env = "GATEHOUSE_PAGE_CACHE_MIB", value_name = "GATEHOUSE_PAGE_CACHE_MIB",
          default_value_t = 8, value_parser = number::<u64>(0, 4096))]
    page_cache_mib: u64,
    /// The server key: 32 bytes as 64 hex digits or base64. Seals OAuth flows and flash
    /// values. Unset: kept in <database file>.key for SQLite; required for PostgreSQL.
    #[arg(long, env = "GATEHOUSE_SECRET_KEY", value_name = "GATEHOUSE_SECRET_KEY",
          hide_env_values = true, value_parser = secret_key)]
    secret_key: Option<SecretKey>,
    /// The key before the current one, still accepted for opening (key rotation).
    #[arg(long, env = "GATEHOUSE_SECRET_KEY_PREVIOUS", value_name = "GATEHOUSE_SECRET_KEY_PREVIOUS",
          hide_env_values = true, value_parser = secret_key)]
    secret_key_previous: Option<SecretKey>,
    /// How long a sign-in counts as recent for changing credentials (else "Confirm it's you").
    #[arg(long, env = "GATEHOUSE_REAUTH_WINDOW", value_name = "GATEHOUSE_REAUTH_WINDOW",
          default_value = "10m", value_parser = duration)]
    reauth_window: Duration,
    /// How long audit events are kept (pruned hourly).
    #[arg(long, env = "GATEHOUSE_AUDIT_RETENTION", value_name = "GATEHOUSE_AUDIT_RETENTION",
          default_value = "365d", value_parser = duration)]
    audit_retention: Duration,
    /// Users at or above this role must use two-factor sign-in: none (nobody), user,
    /// admin (recommended in production) or owner.
    #[arg(long = "require-2fa", env = "GATEHOUSE_REQUIRE_2FA", value_name = "GATEHOUSE_REQUIRE_2FA",
          default_value = "none", value_parser = required_role)]
    require_2fa: RequiredRole,
    #[command(flatten)]
    mail: Mail,
    /// Log lines: text (for people) or json (one object per line, for log collectors).
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_name = "GATEHOUSE_LOG_FORMAT",
          default_value = "text", value_parser = log_format)]
    log_format: LogFormat,
    /// Check new passwords against the breached-password range API: off or on.
    #[arg(long, env = "GATEHOUSE_BREACHED_PASSWORDS", value_name = "GATEHOUSE_BREACHED_PASSWORDS",
          default_value = "off", action = ArgAction::Set, value_parser = on_or_off)]
    breached_passwords: bool,
    /// The range API (Have I Been Pwned's, or a copy of it).
    #[arg(long, env = "GATEHOUSE_BREACHED_PASSWORDS_URL", value_name = "GATEHOUSE_BREACHED_PASSWORDS_URL",
          default_value = "https://api.pwnedpasswords.com", value_parser = web_url)]
    breached_passwords_url: Url,
    /// The bearer token `GET /metrics` answers to (at least 16 characters). Unset: the
    /// route does not exist.
    #[arg(long, env = "GATEHOUSE_METRICS_TOKEN", value_name = "GATEHOUSE_METRICS_TOKEN",
          hide_env_values = true, value_parser = super::metrics::MetricsToken::parse)]
    metrics_token: Option<super::metrics::MetricsToken>,
}

/// The role two-factor sign-in is required from, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RequiredRole(Option<Role>);

/// A variable that could not be used; printed as one line naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

fn invalid(variable: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        reason: reason.into(),
    }
}

/// Shows a bad value in an error without letting a huge or odd one flood the line.
fn shown(value: &str) -> String {
    let short: String = value.chars().take(60).collect();
    format!("{short:?}")
}

impl Settings {
    /// The cross-variable checks, and the configuration the server reads.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let session = self.session;
        if session.renew_within > session.ttl {
            return Err(invalid(
                "GATEHOUSE_SESSION_RENEW_WITHIN",
                "must not be longer than GATEHOUSE_SESSION_TTL",
            ));
        }
        if session.absolute < session.ttl {
            return Err(invalid(
                "GATEHOUSE_SESSION_ABSOLUTE",
                "must not be shorter than GATEHOUSE_SESSION_TTL",
            ));
        }
        let github = oauth_client(
            ("GITHUB_CLIENT_ID", self.github_client_id),
            ("GITHUB_CLIENT_SECRET", self.github_client_secret),
            [self.github_auth_url, self.github_token_url, self.github_api_url],
        )?;
        let google = oauth_client(
            ("GOOGLE_CLIENT_ID", self.google_client_id),
            ("GOOGLE_CLIENT_SECRET", self.google_client_secret),
            [
                self.google_auth_url,
                self.google_token_url,
                self.google_userinfo_url,
            ],
        )?;
        Ok(Config {
            app_name: self.app_name.clone(),
            database_url: self.database_url,
            public_origin: self.public_url.origin().ascii_serialization(),
            public_host: self
                .public_url
                .host_str()
                .unwrap_or_default()
                .to_ascii_lowercase(),
            https: self.public_url.scheme() == "https",
            passkeys: matches!(self.public_url.host(), Some(url::Host::Domain(_))),
            session,
            password_min_length: self.password_min_length,
            default_role: self.default_role,
            trust_proxy: self.trust_proxy,
            limits: self.limits,
            github,
            google,
            oauth_timeout: self.oauth_timeout,
            page_cache_bytes: self.page_cache_mib * 1024 * 1024,
            secret_key: self.secret_key,
            secret_key_previous: self.secret_key_previous,
            reauth_window: self.reauth_window,
            audit_retention: self.audit_retention,
            require_2fa: self.require_2fa.0,
            mail: Mail {
                from: Some(match self.mail.from {
                    Some(from) => from,
                    None => default_sender(&self.app_name, &self.public_url)?,
                }),
                ..self.mail
            },
            log_format: self.log_format,
            breached_passwords: self.breached_passwords.then_some(self.breached_passwords_url),
            metrics_token: self.metrics_token,
        })
    }
}

/// `APP NAME <noreply@HOST>` for a public URL naming a domain; `noreply@localhost` for
/// an IP address (an address needs a domain).
fn default_sender(app_name: &str, public_url: &Url) -> Result<lettre::message::Mailbox, ConfigError> {
    let domain = match public_url.host() {
        Some(url::Host::Domain(domain)) => domain,
        _ => "localhost",
    };
    let address = lettre::Address::new("noreply", domain).map_err(|_| {
        invalid(
            "GATEHOUSE_MAIL_FROM",
            "must be set: the public URL's host name does not make a sender address",
        )
    })?;
    Ok(lettre::message::Mailbox::new(Some(app_name.to_owned()), address))
}

/// A provider is on only when both its id and secret are set; one without the other is a mistake.
fn oauth_client(
    (id_var, id): (&str, Option<String>),
    (secret_var, secret): (&str, Option<String>),
    [auth_url, token_url, api_url]: [Url; 3],
) -> Result<Option<OAuthClient>, ConfigError> {
    let (client_id, client_secret) = match (id, secret) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id.trim().to_owned(), secret.trim().to_owned()),
        (Some(_), None) => return Err(invalid(secret_var, format!("must be set when {id_var} is"))),
        (None, Some(_)) => return Err(invalid(id_var, format!("must be set when {secret_var} is"))),
    };
    Ok(Some(OAuthClient {
        client_id,
        client_secret,
        auth_url,
        token_url,
        api_url,
    }))
}

impl Config {
    /// Reads the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Config, ConfigError> {
        load_dotenv()?;
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (the environment, or a map in
    /// tests): each variable that is set becomes its command-line option, and clap
    /// parses them as it parses the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let command = Settings::augment_args(clap::Command::new("gatehouse").no_binary_name(true));
        let mut argv = Vec::new();
        for arg in command.get_arguments() {
            let (Some(variable), Some(long)) = (arg.get_env(), arg.get_long()) else {
                continue;
            };
            if let Some(value) = variable.to_str().and_then(&get).filter(|v| !v.trim().is_empty()) {
                argv.push(format!("--{long}={value}"));
            }
        }
        let matches = command
            .mut_args(|arg| arg.env(None))
            .try_get_matches_from(argv)
            .map_err(from_clap)?;
        Settings::from_arg_matches(&matches)
            .map_err(from_clap)?
            .validate()
    }
}

/// Loads `.env` when there is one. A missing file is normal; a malformed one is not
/// silently ignored.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(invalid(".env", e.to_string())),
    }
}

/// The command line of the server with the configuration's variables in its help. An
/// environment variable set to nothing counts as unset, as deployment tools often
/// write it that way.
pub fn command<C: CommandFactory>() -> clap::Command {
    C::command().mut_args(|arg| {
        let blank = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|value| value.to_string_lossy().trim().is_empty());
        if blank {
            arg.env(None)
        } else {
            arg
        }
    })
}

/// A clap error as one line naming the variable (`--session-ttl <GATEHOUSE_SESSION_TTL>`
/// names it in its value name).
pub fn from_clap(err: clap::Error) -> ConfigError {
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(clap::error::ContextValue::String(arg)) => arg.clone(),
        _ => String::new(),
    };
    let variable = arg
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(arg.as_str(), |(name, _)| name);
    let reason = match std::error::Error::source(&err) {
        Some(source) => source.to_string(),
        None => err.kind().as_str().unwrap_or("not accepted").to_owned(),
    };
    invalid(variable, reason)
}

// Value parsers: each refusal says what was expected and what came.

fn duration(raw: &str) -> Result<Duration, String> {
    let value = humantime::parse_duration(raw.trim())
        .map_err(|_| format!("expected a duration such as 30d, 15m or 10s, got {}", shown(raw)))?;
    if value.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(value)
}

fn view_as_duration(raw: &str) -> Result<Duration, String> {
    let value = duration(raw)?;
    if value > Duration::from_secs(3600) {
        return Err("must be at most 1h: a view as another user is short-lived".to_owned());
    }
    Ok(value)
}

fn database_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.starts_with("sqlite:") || raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "expected sqlite://… or postgres://…, got {}",
            shown(raw.split(':').next().unwrap_or(""))
        ))
    }
}

fn public_url(raw: &str) -> Result<Url, String> {
    let parsed = Url::parse(raw.trim()).map_err(|e| format!("{e} ({})", shown(raw)))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "scheme must be http or https, got {}",
            shown(parsed.scheme())
        ));
    }
    if parsed.host_str().is_none() || parsed.path() != "/" || parsed.query().is_some() {
        return Err(format!(
            "expected an origin such as https://example.com, got {}",
            shown(raw)
        ));
    }
    Ok(parsed)
}

fn web_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("{e} ({})", shown(raw)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("expected an http(s) URL, got {}", shown(raw)));
    }
    Ok(url)
}

fn secret_key(raw: &str) -> Result<SecretKey, String> {
    SecretKey::parse(raw)
}

fn required_role(raw: &str) -> Result<RequiredRole, String> {
    match raw.trim() {
        "none" => Ok(RequiredRole(None)),
        "user" => Ok(RequiredRole(Some(Role::User))),
        "admin" => Ok(RequiredRole(Some(Role::Admin))),
        "owner" => Ok(RequiredRole(Some(Role::Owner))),
        _ => Err(format!("expected none, user, admin or owner, got {}", shown(raw))),
    }
}

fn sign_up_role(raw: &str) -> Result<Role, String> {
    match raw.trim().parse::<Role>() {
        Ok(role @ (Role::None | Role::User)) => Ok(role),
        _ => Err(format!("expected none or user, got {}", shown(raw))),
    }
}

/// 1 to 40 characters, none of them a control character, `<` or `>` (the page title
/// takes the name as it is); spaces around are dropped.
fn app_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let length = name.chars().count();
    if length == 0 || length > 40 {
        return Err(format!("expected 1 to 40 characters, got {length}"));
    }
    if name.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        return Err("must not contain control characters, < or >".to_owned());
    }
    Ok(name.to_owned())
}

fn yes_or_no(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "false" | "0" | "no" => Ok(false),
        "true" | "1" | "yes" => Ok(true),
        other => Err(format!("expected true or false, got {}", shown(other))),
    }
}

/// A whole number within `min..=max`.
fn number<T: TryFrom<u64> + Clone + Send + Sync + 'static>(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |raw| {
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("expected a number from {min} to {max}, got {}", shown(raw)))
    }
}

fn on_or_off(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "off" => Ok(false),
        "on" => Ok(true),
        other => Err(format!("expected off or on, got {}", shown(other))),
    }
}

fn log_format(raw: &str) -> Result<LogFormat, String> {
    match raw.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("expected text or json, got {}", shown(raw))),
    }
}

fn signup_email(raw: &str) -> Result<SignupEmail, String> {
    match raw.trim() {
        "off" => Ok(SignupEmail::Off),
        "optional" => Ok(SignupEmail::Optional),
        "required" => Ok(SignupEmail::Required),
        _ => Err(format!("expected off, optional or required, got {}", shown(raw))),
    }
}

fn mailbox(raw: &str) -> Result<lettre::message::Mailbox, String> {
    raw.trim().parse().map_err(|_| {
        format!(
            "expected an address such as \"Example <accounts@example.com>\", got {}",
            shown(raw)
        )
    })
}

/// `smtp://[user:pass@]host[:port][?tls=starttls]` or `smtps://[user:pass@]host[:port]`.
fn smtp_url(raw: &str) -> Result<SmtpServer, String> {
    // The password is never echoed back: only the scheme and host are shown.
    let url = Url::parse(raw.trim())
        .map_err(|e| format!("{e}: expected smtp://host:port or smtps://user:pass@host:465"))?;
    let secure = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => return Err(format!("scheme must be smtp or smtps, got {}", shown(other))),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("expected a host, as in smtp://localhost:1025")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let mut security = if secure {
        SmtpSecurity::Tls
    } else {
        SmtpSecurity::Plain
    };
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("tls", "starttls") if !secure => security = SmtpSecurity::StartTls,
            ("tls", "none") if !secure => security = SmtpSecurity::Plain,
            ("tls", other) => {
                return Err(format!(
                    "tls= takes starttls or none with smtp:// (smtps:// is TLS already), got {}",
                    shown(other)
                ))
            }
            (other, _) => return Err(format!("unknown parameter {}", shown(other))),
        }
    }
    let port = url.port().unwrap_or(match security {
        SmtpSecurity::Plain => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    });
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = match (url.username(), url.password()) {
        ("", None) => None,
        (user, Some(pass)) => Some((decode(user), decode(pass))),
        (_, None) => return Err("a user name needs a password (smtps://user:pass@host)".to_owned()),
    };
    Ok(SmtpServer {
        host,
        port,
        security,
        credentials,
    })
}

/// `N/DURATION`, e.g. `30/1m` or `10/1h`.
fn rate(raw: &str) -> Result<Rate, String> {
    let bad = || format!("expected N/DURATION such as 30/1m, got {}", shown(raw));
    let (count, per) = raw.trim().split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let per = humantime::parse_duration(per.trim()).map_err(|_| bad())?;
    if count == 0 || per.is_zero() {
        return Err(format!("both parts must be above zero, got {}", shown(raw)));
    }
    Ok(Rate { count, per })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn smtp_urls_say_host_port_security_and_credentials() {
        let plain = smtp_url("smtp://localhost:1025").expect("plain");
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security),
            ("localhost", 1025, SmtpSecurity::Plain)
        );
        assert_eq!(plain.credentials, None);
        let starttls = smtp_url("smtp://AKIA:p%40ss%2Fword@email-smtp.eu-west-1.amazonaws.com?tls=starttls")
            .expect("starttls");
        assert_eq!((starttls.port, starttls.security), (587, SmtpSecurity::StartTls));
        assert_eq!(
            starttls.credentials,
            Some(("AKIA".to_owned(), "p@ss/word".to_owned()))
        );
        let tls = smtp_url("smtps://user%40example.com:secret@smtp.example.com").expect("tls");
        assert_eq!((tls.port, tls.security), (465, SmtpSecurity::Tls));
        assert_eq!(
            tls.credentials.as_ref().map(|c| c.0.as_str()),
            Some("user@example.com")
        );
        // The password never shows in a debug print.
        assert!(!format!("{tls:?}").contains("secret"));
        assert_eq!(smtp_url("smtp://[::1]:25").expect("IPv6").host, "::1");
        for bad in [
            "http://localhost:25",
            "smtp://",
            "smtp://localhost?tls=maybe",
            "smtps://localhost?tls=starttls",
            "smtp://localhost?port=25",
            "smtp://user@localhost",
            "not a url",
        ] {
            assert!(smtp_url(bad).is_err(), "{bad}");
        }
        // A refusal never repeats the password.
        let err =
            config(&[("GATEHOUSE_SMTP_URL", "smtp://u:hunter2@localhost?tls=bad")]).expect_err("refused");
        assert_eq!(err.variable, "GATEHOUSE_SMTP_URL");
        assert!(!err.reason.contains("hunter2"), "{}", err.reason);
    }

    #[test]
    fn mail_settings_have_defaults_and_checks() {
        let default = config(&[]).expect("defaults");
        assert_eq!(default.mail.signup_email, SignupEmail::Optional);
        assert_eq!(default.mail.smtp, None);
        assert_eq!(
            default.mail.from.as_ref().expect("a sender").to_string(),
            "Gatehouse <noreply@localhost>"
        );
        assert_eq!(default.mail.outbox, std::path::PathBuf::from("outbox"));
        let site = config(&[("GATEHOUSE_PUBLIC_URL", "https://auth.example.com")]).expect("site");
        assert_eq!(
            site.mail.from.as_ref().expect("a sender").to_string(),
            "Gatehouse <noreply@auth.example.com>"
        );
        let named = config(&[
            ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"),
            ("GATEHOUSE_APP_NAME", " Acme Books "),
        ])
        .expect("named");
        assert_eq!(named.app_name, "Acme Books");
        assert_eq!(
            named.mail.from.as_ref().expect("a sender").to_string(),
            "Acme Books <noreply@auth.example.com>"
        );
        assert_eq!(default.app_name, "Gatehouse");
        let ip = config(&[("GATEHOUSE_PUBLIC_URL", "http://10.0.0.7:3000")]).expect("ip");
        assert_eq!(
            ip.mail.from.as_ref().expect("a sender").email.to_string(),
            "noreply@localhost"
        );
        let set = config(&[
            ("GATEHOUSE_MAIL_FROM", "Example <accounts@example.com>"),
            ("GATEHOUSE_SIGNUP_EMAIL", "required"),
        ])
        .expect("set");
        assert_eq!(
            set.mail.from.as_ref().expect("a sender").email.to_string(),
            "accounts@example.com"
        );
        assert_eq!(set.mail.signup_email, SignupEmail::Required);
        for (variable, value) in [
            ("GATEHOUSE_MAIL_FROM", "not an address"),
            ("GATEHOUSE_SIGNUP_EMAIL", "sometimes"),
            ("GATEHOUSE_RATE_MAIL_IP", "0/1h"),
        ] {
            assert_eq!(config(&[(variable, value)]).expect_err(value).variable, variable);
        }
    }

    #[test]
    fn an_ip_address_public_url_turns_passkeys_off() {
        for url in ["http://127.0.0.1:3000", "http://[::1]:3000", "https://10.0.0.7"] {
            let c = config(&[("GATEHOUSE_PUBLIC_URL", url)]).expect("valid");
            assert!(!c.passkeys, "{url}");
        }
        let c = config(&[("GATEHOUSE_PUBLIC_URL", "http://LocalHost:3000")]).expect("valid");
        assert!(c.passkeys);
        assert_eq!(c.public_host, "localhost");
    }

    /// The README's configuration table, as (variable, default) pairs: a row naming
    /// several variables (`A_AUTH_URL`, `…_TOKEN_URL`) gives each, the ellipsis standing
    /// for the first name's prefix; a default that is not one backticked value is `None`.
    fn readme_variables() -> Vec<(String, Option<String>)> {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("## Configuration")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("a Configuration section");
        let mut variables = Vec::new();
        for row in table.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split(" | ").collect();
            let names: Vec<&str> = cells[0]
                .trim_start_matches("| ")
                .split(", ")
                .map(|n| n.trim_matches('`'))
                .collect();
            let default = cells[1]
                .strip_prefix('`')
                .and_then(|d| d.strip_suffix('`'))
                .filter(|d| !d.contains('`') && !d.contains('…'))
                .map(str::to_owned);
            let first = names[0];
            for name in &names {
                let full = match name.strip_prefix('…') {
                    Some(tail) => {
                        let segments = tail.matches('_').count();
                        let cut = first.rmatch_indices('_').nth(segments - 1).expect("prefix").0;
                        format!("{}{tail}", &first[..cut])
                    }
                    None => (*name).to_owned(),
                };
                let default = if names.len() == 1 { default.clone() } else { None };
                variables.push((full, default));
            }
        }
        variables
    }

    /// Every variable the server reads is in the README's table with the default it
    /// really has, and the table names nothing the server does not read (but the logging
    /// filter and cargo-leptos's own variables, which other code reads).
    #[test]
    fn the_readme_table_is_what_help_lists() {
        let command = Settings::augment_args(clap::Command::new("gatehouse"));
        let mut from_help = std::collections::BTreeMap::new();
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                let default = arg
                    .get_default_values()
                    .first()
                    .map(|d| d.to_string_lossy().into_owned());
                from_help.insert(env.to_string_lossy().into_owned(), default);
            }
        }
        let documented = readme_variables();
        let names: std::collections::BTreeSet<&str> = documented.iter().map(|(n, _)| n.as_str()).collect();
        for name in from_help.keys() {
            assert!(
                names.contains(name.as_str()),
                "{name} is read but not in the README's table"
            );
        }
        for (name, default) in &documented {
            if name == "RUST_LOG" || name.starts_with("LEPTOS_") {
                continue;
            }
            let Some(real) = from_help.get(name) else {
                panic!("the README documents {name}, which the server does not read");
            };
            if let (Some(documented), Some(real)) = (default, real) {
                assert_eq!(documented, real, "the README's default of {name}");
            }
        }
        assert!(names.contains("GATEHOUSE_GOOGLE_USERINFO_URL"), "{names:?}");
        assert!(from_help.len() > 30, "{from_help:?}");
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.database_url, "sqlite://gatehouse.db?mode=rwc");
        assert_eq!(c.public_origin, "http://localhost:3000");
        assert_eq!(c.public_host, "localhost");
        assert!(c.passkeys, "localhost is a domain: passkeys work by default");
        assert!(!c.https);
        assert_eq!(c.session.ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.session.renew_within, Duration::from_secs(15 * 86_400));
        assert_eq!(c.session.absolute, Duration::from_secs(90 * 86_400));
        assert_eq!(c.password_min_length, 8);
        assert_eq!(c.default_role, Role::User);
        assert!(!c.trust_proxy);
        assert_eq!(c.limits.login_max_failures, 5);
        assert_eq!(
            c.limits.rate_signin,
            Rate {
                count: 30,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!(
            c.limits.rate_signup,
            Rate {
                count: 10,
                per: Duration::from_secs(3600)
            }
        );
        assert!(c.github.is_none() && c.google.is_none());
        assert_eq!(c.oauth_timeout, Duration::from_secs(10));
        assert_eq!(c.page_cache_bytes, 8 * 1024 * 1024);
        assert!(c.secret_key.is_none() && c.secret_key_previous.is_none());
        assert_eq!(c.reauth_window, Duration::from_secs(600));
        assert_eq!(c.audit_retention, Duration::from_secs(365 * 86_400));
        assert_eq!(c.require_2fa, None);
        assert_eq!(c.session.view_as, Duration::from_secs(3600));
    }

    #[test]
    fn a_view_as_session_lasts_at_most_an_hour() {
        assert_eq!(
            config(&[("GATEHOUSE_VIEW_AS_TTL", "15m")])
                .expect("15m")
                .session
                .view_as,
            Duration::from_secs(900)
        );
        let error = config(&[("GATEHOUSE_VIEW_AS_TTL", "2h")]).expect_err("2h is refused");
        assert_eq!(error.variable, "GATEHOUSE_VIEW_AS_TTL");
    }

    #[test]
    fn values_are_parsed() {
        let c = config(&[
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"),
            ("GATEHOUSE_SESSION_TTL", "15m"),
            ("GATEHOUSE_SESSION_RENEW_WITHIN", "10s"),
            ("GATEHOUSE_SESSION_ABSOLUTE", "1h"),
            ("GATEHOUSE_PASSWORD_MIN_LENGTH", "15"),
            ("GATEHOUSE_DEFAULT_ROLE", "none"),
            ("GATEHOUSE_TRUST_PROXY", "true"),
            ("GATEHOUSE_RATE_SIGNIN", "1000/1s"),
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "secret"),
            ("GATEHOUSE_GITHUB_API_URL", "http://127.0.0.1:9999"),
            ("GATEHOUSE_PAGE_CACHE_MIB", "0"),
            ("GATEHOUSE_SECRET_KEY", &"ab".repeat(32)),
            ("GATEHOUSE_REAUTH_WINDOW", "5m"),
            ("GATEHOUSE_REQUIRE_2FA", "admin"),
        ])
        .expect("valid");
        assert_eq!(c.require_2fa, Some(Role::Admin));
        assert!(c.secret_key.is_some());
        assert_eq!(c.reauth_window, Duration::from_secs(300));
        assert_eq!(c.page_cache_bytes, 0);
        assert!(c.database_url.starts_with("postgres://") && c.https && c.trust_proxy);
        assert_eq!(c.public_origin, "https://auth.example.com");
        assert_eq!(c.public_host, "auth.example.com");
        assert!(c.passkeys);
        assert_eq!(c.session.ttl, Duration::from_secs(900));
        assert_eq!(c.password_min_length, 15);
        assert_eq!(c.default_role, Role::None);
        assert_eq!(
            c.limits.rate_signin,
            Rate {
                count: 1000,
                per: Duration::from_secs(1)
            }
        );
        let github = c.github.expect("github on");
        assert_eq!(github.api_url.as_str(), "http://127.0.0.1:9999/");
        assert!(
            !format!("{github:?}").contains("secret\""),
            "secret must not be printed"
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("DATABASE_URL", "mysql://x"),
            ("GATEHOUSE_PUBLIC_URL", "not a url"),
            ("GATEHOUSE_PUBLIC_URL", "ftp://example.com"),
            ("GATEHOUSE_PUBLIC_URL", "https://example.com/app"),
            ("GATEHOUSE_SESSION_TTL", "forever"),
            ("GATEHOUSE_SESSION_TTL", "0s"),
            ("GATEHOUSE_SESSION_RENEW_WITHIN", "31d"),
            ("GATEHOUSE_SESSION_ABSOLUTE", "1d"),
            ("GATEHOUSE_PASSWORD_MIN_LENGTH", "4"),
            ("GATEHOUSE_PASSWORD_MIN_LENGTH", "twelve"),
            ("GATEHOUSE_DEFAULT_ROLE", "owner"),
            ("GATEHOUSE_DEFAULT_ROLE", "root"),
            ("GATEHOUSE_TRUST_PROXY", "maybe"),
            ("GATEHOUSE_LOGIN_MAX_FAILURES", "0"),
            ("GATEHOUSE_RATE_SIGNIN", "30"),
            ("GATEHOUSE_RATE_SIGNUP", "0/1h"),
            ("GATEHOUSE_RATE_SIGNUP", "ten/1h"),
            ("GITHUB_CLIENT_SECRET", "only-the-secret"),
            ("GATEHOUSE_OAUTH_TIMEOUT", "soon"),
            ("GATEHOUSE_PAGE_CACHE_MIB", "-1"),
            ("GATEHOUSE_PAGE_CACHE_MIB", "8MiB"),
            ("GATEHOUSE_PAGE_CACHE_MIB", "4097"),
            ("GATEHOUSE_SECRET_KEY", "too-short"),
            ("GATEHOUSE_SECRET_KEY_PREVIOUS", "abcd"),
            ("GATEHOUSE_REAUTH_WINDOW", "never"),
            ("GATEHOUSE_AUDIT_RETENTION", "0s"),
            ("GATEHOUSE_REQUIRE_2FA", "root"),
            (
                "GATEHOUSE_APP_NAME",
                "A name far longer than forty characters in all",
            ),
            ("GATEHOUSE_APP_NAME", "<script>"),
            ("GATEHOUSE_APP_NAME", "Two\nlines"),
        ];
        for (variable, value) in cases {
            let err = config(&[(variable, value)]).expect_err(variable);
            let line = err.to_string();
            assert!(line.contains(variable), "{line}");
            assert!(!line.contains('\n'), "one line: {line}");
        }
        let err = config(&[
            ("GOOGLE_CLIENT_ID", "x"),
            ("GOOGLE_CLIENT_SECRET", "y"),
            ("GATEHOUSE_GOOGLE_TOKEN_URL", "::"),
        ])
        .expect_err("bad url");
        assert_eq!(err.variable, "GATEHOUSE_GOOGLE_TOKEN_URL");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let c = config(&[("GATEHOUSE_SESSION_TTL", ""), ("GITHUB_CLIENT_ID", " ")]).expect("valid");
        assert_eq!(c.session.ttl, Duration::from_secs(30 * 86_400));
        assert!(c.github.is_none());
    }

    #[test]
    fn every_variable_has_an_environment_name_a_value_name_and_help() {
        let command = Settings::augment_args(clap::Command::new("gatehouse"));
        for arg in command.get_arguments() {
            let env = arg.get_env().and_then(|e| e.to_str()).expect("env name");
            let value_names: Vec<_> = arg
                .get_value_names()
                .unwrap_or_default()
                .iter()
                .map(|v| v.as_str())
                .collect();
            assert_eq!(
                value_names,
                [env],
                "{env}: errors name the variable through its value name"
            );
            assert!(arg.get_help().is_some(), "{env} has help");
        }
    }
}
