//! Who a provider says the user is, and the username a new account gets from it.

use crate::{domain::Username, model::Provider};
use anyhow::{anyhow, bail, Context};
use base64::Engine;
use serde::Deserialize;

/// A user as a provider describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderUser {
    pub provider: Provider,
    /// The provider's stable id (GitHub's numeric id, Google's `sub`).
    pub id: String,
    /// What the username of a new account starts from (login, e-mail local part, name).
    pub username_hint: String,
    /// What the settings page shows for the link (login or e-mail).
    pub display: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    /// Only when the provider verified it.
    pub email: Option<String>,
}

/// Keeps a provider string if it is short and printable; drops it otherwise.
fn clean(value: Option<&str>, max_chars: usize) -> Option<String> {
    let value = value?.trim();
    (!value.is_empty() && value.chars().count() <= max_chars && !value.chars().any(char::is_control))
        .then(|| value.to_owned())
}

/// Only https images (or http on loopback, for tests) may become avatars.
fn avatar(value: Option<&str>) -> Option<String> {
    let url = url::Url::parse(value?).ok()?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    (url.scheme() == "https" || (url.scheme() == "http" && loopback))
        .then(|| url.to_string())
        .filter(|u| u.len() <= 512)
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

/// Reads `GET /user` of the GitHub API.
pub fn github_user(body: &serde_json::Value) -> anyhow::Result<ProviderUser> {
    let user: GitHubUser = serde_json::from_value(body.clone()).context("unexpected GitHub user document")?;
    let login = clean(Some(&user.login), 64).ok_or_else(|| anyhow!("GitHub sent an unusable login"))?;
    Ok(ProviderUser {
        provider: Provider::GitHub,
        id: user.id.to_string(),
        username_hint: login.clone(),
        display: login,
        name: clean(user.name.as_deref(), 100),
        avatar_url: avatar(user.avatar_url.as_deref()),
        email: None,
    })
}

#[derive(Deserialize)]
struct GoogleUser {
    sub: String,
    name: Option<String>,
    picture: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
}

/// Reads Google's userinfo document.
pub fn google_user(body: &serde_json::Value) -> anyhow::Result<ProviderUser> {
    let user: GoogleUser =
        serde_json::from_value(body.clone()).context("unexpected Google userinfo document")?;
    let sub = clean(Some(&user.sub), 255).ok_or_else(|| anyhow!("Google sent an unusable subject"))?;
    // Some issuers send the flag as a string.
    let verified = matches!(&user.email_verified, Some(serde_json::Value::Bool(true)))
        || matches!(&user.email_verified, Some(serde_json::Value::String(s)) if s == "true");
    let email = if verified {
        clean(user.email.as_deref(), 254)
    } else {
        None
    };
    let name = clean(user.name.as_deref(), 100);
    let hint = email
        .as_deref()
        .and_then(|e| e.split('@').next())
        .map(str::to_owned)
        .or_else(|| name.clone())
        .unwrap_or_else(|| "user".to_owned());
    Ok(ProviderUser {
        provider: Provider::Google,
        display: email
            .clone()
            .or_else(|| name.clone())
            .unwrap_or_else(|| "Google account".to_owned()),
        id: sub,
        username_hint: hint,
        name,
        avatar_url: avatar(user.picture.as_deref()),
        email,
    })
}

#[derive(Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    nonce: Option<String>,
}

/// Checks the ID token Google's token endpoint returned and gives its subject.
///
/// The token came straight from the token endpoint over TLS, which OpenID Connect
/// accepts in place of checking its signature (Core §3.1.3.7); what must still hold is
/// the issuer, the audience (our client id), the expiry and the nonce of this flow.
pub fn check_id_token(
    token: &str,
    client_id: &str,
    nonce: &str,
    auth_url: &url::Url,
    now: i64,
) -> anyhow::Result<String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("the ID token is not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .context("the ID token payload is not base64url")?;
    let claims: IdClaims =
        serde_json::from_slice(&bytes).context("the ID token payload is not the expected JSON")?;
    let own_origin = auth_url.origin().ascii_serialization();
    if !(claims.iss == "https://accounts.google.com"
        || claims.iss == "accounts.google.com"
        || claims.iss == own_origin)
    {
        bail!("unexpected ID token issuer {:?}", claims.iss);
    }
    let audience_ok = match &claims.aud {
        serde_json::Value::String(aud) => aud == client_id,
        serde_json::Value::Array(list) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        bail!("the ID token is for another client");
    }
    if claims.exp < now - 60 {
        bail!("the ID token has expired");
    }
    if claims.nonce.as_deref() != Some(nonce) {
        bail!("the ID token nonce does not match this sign-in");
    }
    Ok(claims.sub)
}

/// A valid username built from what a provider calls the user: letters, digits and
/// `_-.` kept, anything else a `-`, trimmed to 32 and padded to 3 characters.
pub fn derive_username(hint: &str) -> Username {
    let mut base: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while base.contains("--") {
        base = base.replace("--", "-");
    }
    let base = base.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut base: String = base.chars().take(32).collect();
    base = base.trim_end_matches(['-', '.', '_']).to_owned();
    if base.chars().count() < 3 {
        base = format!("user-{base}").trim_end_matches('-').to_owned();
    }
    Username::parse(&base)
        .or_else(|_| Username::parse("user"))
        .unwrap_or_else(|_| unreachable_username())
}

/// `user` always parses; this keeps the code free of `unwrap` all the same.
fn unreachable_username() -> Username {
    Username::parse("user-account").unwrap_or_else(|_| derive_username("user"))
}

/// The `n`-th candidate for a new account's username: `base`, `base-2`, `base-3` …
/// (shortened so the suffix always fits in 32 characters).
pub fn candidate(base: &Username, n: u32) -> Option<Username> {
    if n <= 1 {
        return Some(base.clone());
    }
    let suffix = format!("-{n}");
    let room = 32 - suffix.len();
    let stem: String = base.as_str().chars().take(room).collect();
    Username::parse(&format!("{}{suffix}", stem.trim_end_matches(['-', '.', '_']))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provider_names_become_valid_usernames() {
        let cases = [
            ("octocat", "octocat"),
            ("Mona-Lisa", "Mona-Lisa"),
            ("ada.lovelace", "ada.lovelace"),
            ("Ada Lovelace", "Ada-Lovelace"),
            ("José Ñúñez", "Jos-ez"),
            ("ab", "user-ab"),
            ("", "user"),
            ("--x--", "user-x"),
            (
                "a-very-long-github-login-that-goes-on-and-on",
                "a-very-long-github-login-that-go",
            ),
            ("日本語", "user"),
        ];
        for (hint, expected) in cases {
            assert_eq!(derive_username(hint).as_str(), expected, "{hint:?}");
        }
    }

    #[test]
    fn candidates_count_up_and_always_fit() {
        let base = derive_username("octocat");
        assert_eq!(
            candidate(&base, 1).map(|u| u.as_str().to_owned()).as_deref(),
            Some("octocat")
        );
        assert_eq!(
            candidate(&base, 2).map(|u| u.as_str().to_owned()).as_deref(),
            Some("octocat-2")
        );
        let long = derive_username(&"x".repeat(40));
        let c = candidate(&long, 99).expect("fits");
        assert_eq!(c.as_str().len(), 32);
        assert!(c.as_str().ends_with("-99"));
    }

    #[test]
    fn github_users_are_read_with_their_numeric_id() {
        let user = github_user(&json!({"id": 583231, "login": "octocat", "name": "The Octocat", "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4"})).expect("user");
        assert_eq!(user.id, "583231");
        assert_eq!(user.username_hint, "octocat");
        assert_eq!(
            user.avatar_url.as_deref(),
            Some("https://avatars.githubusercontent.com/u/583231?v=4")
        );
        assert!(github_user(&json!({"login": "x"})).is_err(), "no id");
        assert!(github_user(&json!("nonsense")).is_err());
        let odd = github_user(&json!({"id": 1, "login": "octo", "avatar_url": "javascript:alert(1)"}))
            .expect("user");
        assert_eq!(odd.avatar_url, None, "only https avatars");
    }

    #[test]
    fn google_emails_count_only_when_verified() {
        let verified = google_user(
            &json!({"sub": "1234", "email": "ada@example.com", "email_verified": true, "name": "Ada"}),
        )
        .expect("user");
        assert_eq!(verified.email.as_deref(), Some("ada@example.com"));
        assert_eq!(verified.username_hint, "ada");
        let unverified = google_user(
            &json!({"sub": "1234", "email": "ada@example.com", "email_verified": false, "name": "Ada L"}),
        )
        .expect("user");
        assert_eq!(unverified.email, None);
        assert_eq!(unverified.username_hint, "Ada L");
        assert!(
            google_user(&json!({"email": "x@example.com"})).is_err(),
            "no subject"
        );
    }

    fn jwt(claims: serde_json::Value) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            engine.encode(b"{\"alg\":\"RS256\"}"),
            engine.encode(claims.to_string())
        )
    }

    #[test]
    fn id_tokens_must_match_issuer_audience_expiry_and_nonce() {
        let auth = url::Url::parse("https://accounts.google.com/o/oauth2/v2/auth").expect("url");
        const NOW: i64 = 1_800_000_000;
        let exp = NOW + 300;
        let good = json!({"iss": "https://accounts.google.com", "sub": "42", "aud": "client", "exp": exp, "nonce": "n1"});
        assert_eq!(
            check_id_token(&jwt(good.clone()), "client", "n1", &auth, NOW).expect("valid"),
            "42"
        );
        let mut wrong = Vec::new();
        for (key, value) in [
            ("iss", json!("https://evil.example")),
            ("aud", json!("another-client")),
            ("exp", json!(NOW - 61)),
            ("nonce", json!("n2")),
        ] {
            let mut claims = good.clone();
            claims[key] = value;
            wrong.push(jwt(claims));
        }
        for token in wrong {
            assert!(check_id_token(&token, "client", "n1", &auth, NOW).is_err());
        }
        assert!(check_id_token("not-a-jwt", "client", "n1", &auth, NOW).is_err());
        let list = json!({"iss": "accounts.google.com", "sub": "7", "aud": ["x", "client"], "exp": exp, "nonce": "n1"});
        assert!(check_id_token(&jwt(list), "client", "n1", &auth, NOW).is_ok());
    }
}
