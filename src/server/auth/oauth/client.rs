//! Talking to the providers: authorize URLs, code exchange, user info.

use super::identity::{self, ProviderUser};
use crate::{
    model::Provider,
    server::config::{Config, OAuthClient},
};
use anyhow::{anyhow, bail, Context};
use oauth2::{
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenResponse, BasicTokenType,
    },
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An OAuth client with its authorize and token endpoints set.
type Configured<TR> = oauth2::Client<
    BasicErrorResponse,
    TR,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The token response of an OpenID Connect provider carries an ID token.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OidcFields {
    #[serde(default)]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for OidcFields {}

type OidcTokenResponse = StandardTokenResponse<OidcFields, BasicTokenType>;

/// The providers this deployment has, and the HTTP client used to reach them.
#[derive(Clone)]
pub struct OAuth {
    http: reqwest::Client,
    github: Option<(Configured<BasicTokenResponse>, OAuthClient)>,
    google: Option<(Configured<OidcTokenResponse>, OAuthClient)>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("github", &self.github.is_some())
            .field("google", &self.google.is_some())
            .finish_non_exhaustive()
    }
}

/// Where a flow goes: the authorize URL and what the callback must check.
pub struct Started {
    pub url: String,
    pub state: String,
    pub verifier: String,
    pub nonce: Option<String>,
}

fn configured<TR>(config: &OAuthClient, origin: &str, provider: Provider) -> anyhow::Result<Configured<TR>>
where
    TR: TokenResponse,
{
    let redirect = format!("{origin}/auth/{}/callback", provider.as_str());
    Ok(oauth2::Client::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(config.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(config.auth_url.to_string()).context("authorize URL")?)
        .set_token_uri(TokenUrl::new(config.token_url.to_string()).context("token URL")?)
        .set_redirect_uri(RedirectUrl::new(redirect).context("redirect URL")?))
}

impl OAuth {
    /// Clients for the configured providers. The HTTP client never follows redirects (a
    /// provider response can't steer requests elsewhere) and gives up after the timeout.
    pub fn new(config: &Config) -> anyhow::Result<OAuth> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.oauth_timeout)
            .connect_timeout(config.oauth_timeout.min(Duration::from_secs(5)))
            .user_agent("Gatehouse")
            .build()
            .context("cannot build the HTTP client for OAuth")?;
        let origin = &config.public_origin;
        Ok(OAuth {
            http,
            github: config
                .github
                .as_ref()
                .map(|c| configured(c, origin, Provider::GitHub).map(|client| (client, c.clone())))
                .transpose()?,
            google: config
                .google
                .as_ref()
                .map(|c| configured(c, origin, Provider::Google).map(|client| (client, c.clone())))
                .transpose()?,
        })
    }

    /// True when `provider` is configured.
    pub fn has(&self, provider: Provider) -> bool {
        match provider {
            Provider::GitHub => self.github.is_some(),
            Provider::Google => self.google.is_some(),
        }
    }

    /// A new authorization request: random state (≥128 bits), PKCE S256, and for Google
    /// a nonce. `None` when the provider is not configured.
    pub fn start(&self, provider: Provider) -> Option<Started> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        match provider {
            Provider::GitHub => {
                let (client, _) = self.github.as_ref()?;
                let (url, state) = client
                    .authorize_url(CsrfToken::new_random)
                    .add_scope(Scope::new("read:user".to_owned()))
                    .set_pkce_challenge(challenge)
                    .url();
                Some(Started {
                    url: url.to_string(),
                    state: state.secret().clone(),
                    verifier: verifier.secret().clone(),
                    nonce: None,
                })
            }
            Provider::Google => {
                let (client, _) = self.google.as_ref()?;
                let nonce = CsrfToken::new_random().secret().clone();
                let (url, state) = client
                    .authorize_url(CsrfToken::new_random)
                    .add_scope(Scope::new("openid".to_owned()))
                    .add_scope(Scope::new("email".to_owned()))
                    .add_scope(Scope::new("profile".to_owned()))
                    .add_extra_param("nonce", &nonce)
                    .set_pkce_challenge(challenge)
                    .url();
                Some(Started {
                    url: url.to_string(),
                    state: state.secret().clone(),
                    verifier: verifier.secret().clone(),
                    nonce: Some(nonce),
                })
            }
        }
    }

    /// Trades the code for a token and reads who the user is at the provider.
    pub async fn user(
        &self,
        provider: Provider,
        code: &str,
        verifier: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> anyhow::Result<ProviderUser> {
        match provider {
            Provider::GitHub => {
                let (client, config) = self
                    .github
                    .as_ref()
                    .ok_or_else(|| anyhow!("GitHub is not configured"))?;
                let token = client
                    .exchange_code(AuthorizationCode::new(code.to_owned()))
                    .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
                    .request_async(&self.http)
                    .await
                    .map_err(|e| anyhow!("GitHub token exchange failed: {}", describe(&e)))?;
                let url = format!("{}/user", config.api_url.as_str().trim_end_matches('/'));
                let body = self
                    .get_json(&url, token.access_token().secret(), "application/vnd.github+json")
                    .await
                    .context("GitHub user request failed")?;
                identity::github_user(&body)
            }
            Provider::Google => {
                let (client, config) = self
                    .google
                    .as_ref()
                    .ok_or_else(|| anyhow!("Google is not configured"))?;
                let token = client
                    .exchange_code(AuthorizationCode::new(code.to_owned()))
                    .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
                    .request_async(&self.http)
                    .await
                    .map_err(|e| anyhow!("Google token exchange failed: {}", describe(&e)))?;
                let id_token = token
                    .extra_fields()
                    .id_token
                    .as_deref()
                    .ok_or_else(|| anyhow!("Google answered without an ID token"))?;
                let nonce = nonce.ok_or_else(|| anyhow!("the flow has no nonce"))?;
                let subject =
                    identity::check_id_token(id_token, &config.client_id, nonce, &config.auth_url, now)?;
                let body = self
                    .get_json(
                        config.api_url.as_str(),
                        token.access_token().secret(),
                        "application/json",
                    )
                    .await
                    .context("Google userinfo request failed")?;
                let user = identity::google_user(&body)?;
                if user.id != subject {
                    bail!("the userinfo subject does not match the ID token");
                }
                Ok(user)
            }
        }
    }

    /// GETs a JSON document with a bearer token, reading at most 256 KiB.
    async fn get_json(&self, url: &str, token: &str, accept: &str) -> anyhow::Result<serde_json::Value> {
        let mut response = self
            .http
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(|e| anyhow!("{}", reqwest_cause(&e)))?;
        if !response.status().is_success() {
            bail!("the provider answered {}", response.status());
        }
        const LIMIT: usize = 256 * 1024;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| anyhow!("{}", reqwest_cause(&e)))?
        {
            if body.len() + chunk.len() > LIMIT {
                bail!("the provider's answer is larger than {LIMIT} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).context("the provider's answer is not JSON")
    }
}

/// A token-exchange failure in a few words (the provider's error code, a timeout …).
fn describe<RE: std::error::Error + 'static>(
    err: &oauth2::RequestTokenError<RE, BasicErrorResponse>,
) -> String {
    match err {
        oauth2::RequestTokenError::ServerResponse(response) => {
            format!("the provider refused: {}", response.error())
        }
        oauth2::RequestTokenError::Request(e) => {
            let mut cause = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                cause = format!("{cause}: {s}");
                source = s.source();
            }
            cause
        }
        oauth2::RequestTokenError::Parse(e, _) => format!("unreadable token response ({e})"),
        oauth2::RequestTokenError::Other(e) => e.clone(),
    }
}

fn reqwest_cause(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.to_string()
    }
}
