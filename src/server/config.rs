//! Typed configuration, read once at start-up from the environment (and `.env`).

use crate::model::Role;
use std::{fmt, time::Duration};
use url::Url;

use crate::domain::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};

/// Memory for reusable rendered pages unless `GATEHOUSE_PAGE_CACHE_MIB` says otherwise.
const DEFAULT_PAGE_CACHE_MIB: u64 = 8;
/// Largest page cache accepted.
const MAX_PAGE_CACHE_MIB: u64 = 4096;

/// Everything Gatehouse can be told from outside (SPEC §3).
#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// The origin the site is served from, without a trailing slash (`https://example.com`).
    pub public_origin: String,
    /// True when the public URL is https: `Secure` + `__Host-` cookies and HSTS.
    pub https: bool,
    pub session: SessionPolicy,
    pub password_min_length: usize,
    pub default_role: Role,
    pub trust_proxy: bool,
    pub login_max_failures: u32,
    pub rate_signin: Rate,
    pub rate_signup: Rate,
    pub github: Option<OAuthClient>,
    pub google: Option<OAuthClient>,
    /// Longest wait for an OAuth provider's token or user endpoint.
    pub oauth_timeout: Duration,
    /// Memory for rendered pages kept for reuse (`0`: render every page afresh).
    pub page_cache_bytes: u64,
}

/// Session lifetimes (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Lifetime of a session since its last renewal.
    pub ttl: Duration,
    /// Renew when less than this is left.
    pub renew_within: Duration,
    /// Hard cap from sign-in; renewal never passes it.
    pub absolute: Duration,
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

/// A variable that could not be used; printed as one line naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

/// Shows a bad value in an error without letting a huge or odd one flood the line.
fn shown(value: &str) -> String {
    let short: String = value.chars().take(60).collect();
    format!("{short:?}")
}

impl Config {
    /// Reads the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Config, ConfigError> {
        // A missing .env is normal; a malformed one is not silently ignored.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(invalid(".env", e.to_string())),
        }
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        // An empty variable means "unset", as most deployment tools write it that way.
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let database_url = var("DATABASE_URL").unwrap_or_else(|| "sqlite://gatehouse.db?mode=rwc".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                format!(
                    "expected sqlite://… or postgres://…, got {}",
                    shown(database_url.split(':').next().unwrap_or(""))
                ),
            ));
        }

        let public_url = var("GATEHOUSE_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into());
        let parsed = Url::parse(public_url.trim())
            .map_err(|e| invalid("GATEHOUSE_PUBLIC_URL", format!("{e} ({})", shown(&public_url))))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(invalid(
                    "GATEHOUSE_PUBLIC_URL",
                    format!("scheme must be http or https, got {}", shown(other)),
                ))
            }
        };
        if parsed.host_str().is_none() || parsed.path() != "/" || parsed.query().is_some() {
            return Err(invalid(
                "GATEHOUSE_PUBLIC_URL",
                format!(
                    "expected an origin such as https://example.com, got {}",
                    shown(&public_url)
                ),
            ));
        }
        let public_origin = parsed.origin().ascii_serialization();

        let duration = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let raw = var(name).unwrap_or_else(|| default.to_owned());
            let value = humantime::parse_duration(raw.trim()).map_err(|_| {
                invalid(
                    name,
                    format!("expected a duration such as 30d, 15m or 10s, got {}", shown(&raw)),
                )
            })?;
            if value.is_zero() {
                return Err(invalid(name, "must be longer than zero"));
            }
            Ok(value)
        };
        let session = SessionPolicy {
            ttl: duration("GATEHOUSE_SESSION_TTL", "30d")?,
            renew_within: duration("GATEHOUSE_SESSION_RENEW_WITHIN", "15d")?,
            absolute: duration("GATEHOUSE_SESSION_ABSOLUTE", "90d")?,
        };
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

        let password_min_length = number(
            "GATEHOUSE_PASSWORD_MIN_LENGTH",
            var("GATEHOUSE_PASSWORD_MIN_LENGTH"),
            PASSWORD_MIN_CHARS as u64,
            PASSWORD_MIN_CHARS as u64..=PASSWORD_MAX_CHARS as u64,
        )? as usize;

        let default_role = match var("GATEHOUSE_DEFAULT_ROLE") {
            None => Role::User,
            Some(raw) => match raw.trim().parse::<Role>() {
                Ok(role @ (Role::None | Role::User)) => role,
                _ => {
                    return Err(invalid(
                        "GATEHOUSE_DEFAULT_ROLE",
                        format!("expected none or user, got {}", shown(&raw)),
                    ))
                }
            },
        };

        let trust_proxy = match var("GATEHOUSE_TRUST_PROXY").as_deref().map(str::trim) {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(invalid(
                    "GATEHOUSE_TRUST_PROXY",
                    format!("expected true or false, got {}", shown(other)),
                ))
            }
        };

        let login_max_failures = number(
            "GATEHOUSE_LOGIN_MAX_FAILURES",
            var("GATEHOUSE_LOGIN_MAX_FAILURES"),
            5,
            1..=1000,
        )? as u32;

        let rate_signin = parse_rate(
            "GATEHOUSE_RATE_SIGNIN",
            var("GATEHOUSE_RATE_SIGNIN").as_deref().unwrap_or("30/1m"),
        )?;
        let rate_signup = parse_rate(
            "GATEHOUSE_RATE_SIGNUP",
            var("GATEHOUSE_RATE_SIGNUP").as_deref().unwrap_or("10/1h"),
        )?;

        let github = oauth_client(
            &var,
            ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"],
            [
                (
                    "GATEHOUSE_GITHUB_AUTH_URL",
                    "https://github.com/login/oauth/authorize",
                ),
                (
                    "GATEHOUSE_GITHUB_TOKEN_URL",
                    "https://github.com/login/oauth/access_token",
                ),
                ("GATEHOUSE_GITHUB_API_URL", "https://api.github.com"),
            ],
        )?;
        let google = oauth_client(
            &var,
            ["GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"],
            [
                (
                    "GATEHOUSE_GOOGLE_AUTH_URL",
                    "https://accounts.google.com/o/oauth2/v2/auth",
                ),
                (
                    "GATEHOUSE_GOOGLE_TOKEN_URL",
                    "https://oauth2.googleapis.com/token",
                ),
                (
                    "GATEHOUSE_GOOGLE_USERINFO_URL",
                    "https://openidconnect.googleapis.com/v1/userinfo",
                ),
            ],
        )?;

        let oauth_timeout = duration("GATEHOUSE_OAUTH_TIMEOUT", "10s")?;

        // In MiB; 0 turns the cache off.
        let page_cache_mib = number(
            "GATEHOUSE_PAGE_CACHE_MIB",
            var("GATEHOUSE_PAGE_CACHE_MIB"),
            DEFAULT_PAGE_CACHE_MIB,
            0..=MAX_PAGE_CACHE_MIB,
        )?;

        Ok(Config {
            oauth_timeout,
            page_cache_bytes: page_cache_mib * 1024 * 1024,
            database_url,
            public_origin,
            https,
            session,
            password_min_length,
            default_role,
            trust_proxy,
            login_max_failures,
            rate_signin,
            rate_signup,
            github,
            google,
        })
    }

    /// True when the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        !self.database_url.starts_with("sqlite:")
    }
}

/// A whole number within `range`, or `default` when the variable is unset.
fn number(
    variable: &'static str,
    raw: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            variable,
            format!(
                "expected a number from {} to {}, got {}",
                range.start(),
                range.end(),
                shown(&raw)
            ),
        )),
    }
}

/// Parses `N/DURATION`, e.g. `30/1m` or `10/1h`.
fn parse_rate(variable: &'static str, raw: &str) -> Result<Rate, ConfigError> {
    let bad = || {
        invalid(
            variable,
            format!("expected N/DURATION such as 30/1m, got {}", shown(raw)),
        )
    };
    let (count, per) = raw.trim().split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let per = humantime::parse_duration(per.trim()).map_err(|_| bad())?;
    if count == 0 || per.is_zero() {
        return Err(invalid(
            variable,
            format!("both parts must be above zero, got {}", shown(raw)),
        ));
    }
    Ok(Rate { count, per })
}

/// A provider is on only when both its id and secret are set; one without the other is a mistake.
fn oauth_client(
    var: &impl Fn(&str) -> Option<String>,
    [id_var, secret_var]: [&'static str; 2],
    urls: [(&'static str, &str); 3],
) -> Result<Option<OAuthClient>, ConfigError> {
    let (client_id, client_secret) = match (var(id_var), var(secret_var)) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id.trim().to_owned(), secret.trim().to_owned()),
        (Some(_), None) => return Err(invalid(secret_var, format!("must be set when {id_var} is"))),
        (None, Some(_)) => return Err(invalid(id_var, format!("must be set when {secret_var} is"))),
    };
    let mut parsed = Vec::with_capacity(3);
    for (name, default) in urls {
        let raw = var(name).unwrap_or_else(|| default.to_owned());
        let url = Url::parse(raw.trim()).map_err(|e| invalid(name, format!("{e} ({})", shown(&raw))))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                name,
                format!("expected an http(s) URL, got {}", shown(&raw)),
            ));
        }
        parsed.push(url);
    }
    let [auth_url, token_url, api_url]: [Url; 3] = parsed
        .try_into()
        .map_err(|_| invalid(urls[0].0, "internal: expected three URLs"))?;
    Ok(Some(OAuthClient {
        client_id,
        client_secret,
        auth_url,
        token_url,
        api_url,
    }))
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
    fn defaults_match_the_spec() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.database_url, "sqlite://gatehouse.db?mode=rwc");
        assert_eq!(c.public_origin, "http://127.0.0.1:3000");
        assert!(!c.https);
        assert_eq!(c.session.ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.session.renew_within, Duration::from_secs(15 * 86_400));
        assert_eq!(c.session.absolute, Duration::from_secs(90 * 86_400));
        assert_eq!(c.password_min_length, 8);
        assert_eq!(c.default_role, Role::User);
        assert!(!c.trust_proxy);
        assert_eq!(c.login_max_failures, 5);
        assert_eq!(
            c.rate_signin,
            Rate {
                count: 30,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!(
            c.rate_signup,
            Rate {
                count: 10,
                per: Duration::from_secs(3600)
            }
        );
        assert!(c.github.is_none() && c.google.is_none());
        assert_eq!(c.oauth_timeout, Duration::from_secs(10));
        assert_eq!(c.page_cache_bytes, 8 * 1024 * 1024);
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
        ])
        .expect("valid");
        assert_eq!(c.page_cache_bytes, 0);
        assert!(c.is_postgres() && c.https && c.trust_proxy);
        assert_eq!(c.public_origin, "https://auth.example.com");
        assert_eq!(c.session.ttl, Duration::from_secs(900));
        assert_eq!(c.password_min_length, 15);
        assert_eq!(c.default_role, Role::None);
        assert_eq!(
            c.rate_signin,
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
}
