//! The breached-password check (opt-in, `GATEHOUSE_BREACHED_PASSWORDS=on`): a new
//! password is looked up in the Have I Been Pwned range API with k-anonymity — only the
//! first five hex digits of its SHA-1 leave the server, the answer lists every suffix
//! with that prefix (padded with fake ones, `Add-Padding: true`), and the match is made
//! here. The service being slow or down never blocks a sign-up: after 2 s the password
//! is allowed through and a warning is logged.

use crate::{
    domain::Password,
    model::{AppError, MSG_BREACHED},
    server::config::Config,
};
use anyhow::Context;
use sha1::{Digest, Sha1};
use std::time::Duration;
use url::Url;

/// Longest wait for the range API.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The range API client, when the check is on.
#[derive(Clone, Debug)]
pub struct BreachedCheck {
    http: reqwest::Client,
    base: Url,
}

impl BreachedCheck {
    /// `None` when `GATEHOUSE_BREACHED_PASSWORDS` is off.
    pub fn new(config: &Config) -> anyhow::Result<Option<BreachedCheck>> {
        let Some(base) = config.breached_passwords.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent("Gatehouse")
            .build()
            .context("cannot build the HTTP client for the breached-password check")?;
        Ok(Some(BreachedCheck { http, base }))
    }

    /// Refuses (400) a password the range API lists; allows it when the API can't say
    /// (unreachable, or an answer that is not a range list), with a warning in the log
    /// and the metric `gatehouse_breached_check_failures_total` — never silently.
    pub async fn check(&self, password: &Password) -> Result<(), AppError> {
        let digest = hex::encode_upper(Sha1::digest(password.expose().as_bytes()));
        let (prefix, suffix) = digest.split_at(5);
        match self.times_seen(prefix, suffix).await {
            Ok(0) => Ok(()),
            Ok(_) => Err(AppError::bad_request(MSG_BREACHED)),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "breached-password check unavailable: password allowed"
                );
                let reason = if e.is::<UnexpectedAnswer>() {
                    "unexpected_answer"
                } else {
                    "unreachable"
                };
                ::metrics::counter!(crate::server::metrics::BREACHED_CHECK_FAILURES, "reason" => reason)
                    .increment(1);
                Ok(())
            }
        }
    }

    /// How often the range answer says `suffix` was seen (padding lines count 0).
    async fn times_seen(&self, prefix: &str, suffix: &str) -> anyhow::Result<u64> {
        let url = format!("{}/range/{prefix}", self.base.as_str().trim_end_matches('/'));
        let body = self
            .http
            .get(url)
            .header("Add-Padding", "true")
            .send()
            .await
            .context("range request")?
            .error_for_status()
            .context("range answer")?
            .text()
            .await
            .context("range body")?;
        Ok(seen_in(&body, suffix)?)
    }
}

/// A 200 answer of the range API that is not a list of `SUFFIX:COUNT` lines (a captive
/// portal, a proxy's page, a changed API): it says nothing about the password.
#[derive(Debug, thiserror::Error)]
#[error("the range answer is not a list of SUFFIX:COUNT lines")]
struct UnexpectedAnswer;

/// The count of `suffix` in a range answer (`SUFFIX:COUNT` lines, 35 hex digits each);
/// 0 when absent. An answer with any other line, or none at all (a real one always
/// lists hundreds), is [`UnexpectedAnswer`].
fn seen_in(body: &str, suffix: &str) -> Result<u64, UnexpectedAnswer> {
    let mut seen = None;
    let mut lines = 0usize;
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (hash, count) = line.split_once(':').ok_or(UnexpectedAnswer)?;
        let count: u64 = count.trim().parse().map_err(|_| UnexpectedAnswer)?;
        if hash.len() != 35 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UnexpectedAnswer);
        }
        if hash.eq_ignore_ascii_case(suffix) {
            seen = Some(count);
        }
        lines += 1;
    }
    if lines == 0 {
        return Err(UnexpectedAnswer);
    }
    Ok(seen.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::seen_in;

    #[test]
    fn a_suffix_counts_only_with_a_count_above_zero() {
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n011053FD0102E94D6AE2F8B83D76FAF94F6:0\r\n";
        assert_eq!(seen_in(body, "00d4f6e8fa6eecad2a3aa415eec418d38ec").ok(), Some(2));
        assert_eq!(
            seen_in(body, "011053FD0102E94D6AE2F8B83D76FAF94F6").ok(),
            Some(0),
            "padding never matches"
        );
        assert_eq!(seen_in(body, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF").ok(), Some(0));
    }

    #[test]
    fn an_answer_that_is_not_a_range_list_is_unexpected_not_clean() {
        let suffix = "00D4F6E8FA6EECAD2A3AA415EEC418D38EC";
        for body in [
            "garbage",
            "",
            "<html><body>Sign in to the Wi-Fi</body></html>",
            "00D4F6E8FA6EECAD2A3AA415EEC418D38EC:lots",
            "00D4F6E8:2",
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\n{\"error\": true}",
        ] {
            assert!(seen_in(body, suffix).is_err(), "{body:?}");
        }
    }
}
