//! The service's counters, for `GET /metrics` (`site::scrape`) in the Prometheus text
//! format. This module records; it knows nothing of the state.
//!
//! The route and the request layer exist only when `GATEHOUSE_METRICS_TOKEN` is set, and
//! the route answers only a request carrying that token as a bearer token; any other
//! request gets the ordinary 404 page, as if there were no such route. Without a token no
//! recorder is installed, so the `metrics` calls spread through the code do nothing.
//!
//! The recorder is process-wide (the `metrics` crate has one global recorder): several
//! servers in one process (the tests) share it.

use std::{
    fmt,
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{extract::Request, response::Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Requests, by route class and status.
pub const REQUESTS: &str = "gatehouse_http_requests_total";
/// Request latency, by route class.
pub const REQUEST_SECONDS: &str = "gatehouse_http_request_duration_seconds";
/// Sign-ins, by method and outcome.
pub const SIGN_INS: &str = "gatehouse_sign_ins_total";
/// Sessions issued.
pub const SESSIONS_CREATED: &str = "gatehouse_sessions_created_total";
/// Sessions ended (signed out, revoked, replaced, expired and purged).
pub const SESSIONS_ENDED: &str = "gatehouse_sessions_ended_total";
/// Time a password hash waited for a free hashing thread.
pub const HASH_WAIT_SECONDS: &str = "gatehouse_password_hash_wait_seconds";
/// Password hashes waiting for a free hashing thread now.
pub const HASH_QUEUE: &str = "gatehouse_password_hash_queue";
/// Audit events written, by kind.
pub const AUDIT_EVENTS: &str = "gatehouse_audit_events_total";
/// Breached-password checks that could not say (the password was allowed), by reason.
pub const BREACHED_CHECK_FAILURES: &str = "gatehouse_breached_check_failures_total";
/// Queued messages this instance could not open with its keys (kept for another).
pub const MAIL_UNDECRYPTABLE: &str = "gatehouse_mail_undecryptable";

/// The bearer token `/metrics` answers to. Its value is never printed.
#[derive(Clone)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// A token from configuration: at least 16 characters, no white space.
    pub fn parse(raw: &str) -> Result<MetricsToken, String> {
        if raw.chars().count() < 16 || raw.chars().any(char::is_whitespace) {
            return Err("must be at least 16 characters, without spaces".into());
        }
        Ok(MetricsToken(raw.to_owned()))
    }

    /// True when `presented` is the token (compared in constant time over digests, so
    /// neither the content nor the length leaks through timing).
    pub fn matches(&self, presented: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let given = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&given).into()
    }
}

impl fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsToken(…)")
    }
}

/// The process-wide recorder, installed on first use. `None` when another recorder was
/// installed first (then `/metrics` says so with a 503 rather than lying).
pub fn install() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    describe();
                    // Histograms keep raw samples until upkeep folds them in (a scrape
                    // does too; this bounds them between scrapes).
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        let upkeep = handle.clone();
                        runtime.spawn(async move {
                            let mut every = tokio::time::interval(Duration::from_secs(5));
                            loop {
                                every.tick().await;
                                upkeep.run_upkeep();
                            }
                        });
                    }
                    Some(handle)
                }
                Err(err) => {
                    tracing::error!(error = %err, "the metrics recorder could not be installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(REQUESTS, "HTTP requests answered, by route class and status.");
    metrics::describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route class."
    );
    metrics::describe_counter!(SIGN_INS, "Sign-in attempts, by method and outcome.");
    metrics::describe_counter!(SESSIONS_CREATED, "Sessions issued.");
    metrics::describe_counter!(
        SESSIONS_ENDED,
        "Sessions ended: signed out, revoked, replaced at sign-in, expired and purged."
    );
    metrics::describe_histogram!(
        HASH_WAIT_SECONDS,
        metrics::Unit::Seconds,
        "Time a password hash waited for a free hashing thread."
    );
    metrics::describe_gauge!(HASH_QUEUE, "Password hashes waiting for a hashing thread.");
    metrics::describe_counter!(AUDIT_EVENTS, "Audit events written, by kind.");
    metrics::describe_counter!(
        BREACHED_CHECK_FAILURES,
        "Breached-password checks that could not say, so the password was allowed, by reason."
    );
}

/// A sign-in attempt's result. `method`: `password`, `passkey`, `two_factor`, `signup`,
/// a provider's name …; `outcome`: `success`, `failure`, `second_factor`, `disabled`.
pub fn sign_in(method: &'static str, outcome: &'static str) {
    metrics::counter!(SIGN_INS, "method" => method, "outcome" => outcome).increment(1);
}

/// Sessions ended, counted where they are deleted.
pub fn sessions_ended(count: u64) {
    if count > 0 {
        metrics::counter!(SESSIONS_ENDED).increment(count);
    }
}

/// The route classes, a label with few values (never the path itself: that would be
/// one series per user name, token or probe).
const CLASSES: [&str; 6] = ["page", "server_fn", "auth", "static", "health", "metrics"];

/// The index in [`CLASSES`] of a path's class.
fn route_class(path: &str) -> usize {
    if path.starts_with("/pkg/") {
        3
    } else if path.starts_with("/api/") {
        1
    } else if path.starts_with("/auth/") {
        2
    } else if path == "/healthz" || path == "/readyz" {
        4
    } else if path == "/metrics" {
        5
    } else {
        0
    }
}

/// Statuses 100 to 599, the ones HTTP defines.
const STATUSES: usize = 500;

/// The request counter of a class and status, and the latency histogram of a class,
/// registered once and then reused: a request's bookkeeping is two atomic updates, not
/// two look-ups of labelled keys in the registry.
fn handles(class: usize, status: u16) -> (&'static metrics::Counter, &'static metrics::Histogram) {
    static COUNTERS: [[OnceLock<metrics::Counter>; STATUSES]; CLASSES.len()] =
        [const { [const { OnceLock::new() }; STATUSES] }; CLASSES.len()];
    static HISTOGRAMS: [OnceLock<metrics::Histogram>; CLASSES.len()] =
        [const { OnceLock::new() }; CLASSES.len()];
    let name = CLASSES[class];
    let status = status.clamp(100, 599);
    let slot = usize::from(status - 100);
    let counter = COUNTERS[class][slot]
        .get_or_init(|| metrics::counter!(REQUESTS, "class" => name, "status" => status.to_string()));
    let histogram = HISTOGRAMS[class].get_or_init(|| metrics::histogram!(REQUEST_SECONDS, "class" => name));
    (counter, histogram)
}

/// The layer counting every request by class and status, and timing it. It is in place
/// only with a token, after [`install`]: the handles it keeps belong to the recorder.
///
/// A plain tower layer rather than `axum::middleware::from_fn`: a `from_fn` layer clones
/// the whole stack of services below it for every request (measured: /profile 0.81–0.83
/// of its throughput with it), while this one hands the request straight to the service
/// below and only wraps the answer's future.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordLayer;

impl<S> tower::Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record { inner }
    }
}

/// The service of [`RecordLayer`].
#[derive(Clone, Debug)]
pub struct Record<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Record<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let class = route_class(req.uri().path());
        let started = Instant::now();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await?;
            let (requests, latency) = handles(class, response.status().as_u16());
            requests.increment(1);
            latency.record(started.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_a_few_classes() {
        let class = |path| CLASSES[route_class(path)];
        assert_eq!(class("/pkg/gatehouse.wasm"), "static");
        assert_eq!(class("/api/login"), "server_fn");
        assert_eq!(class("/auth/github/callback"), "auth");
        assert_eq!(class("/healthz"), "health");
        assert_eq!(class("/metrics"), "metrics");
        assert_eq!(class("/u/some-user-name"), "page");
    }

    #[test]
    fn a_token_matches_only_itself_and_is_never_printed() {
        let token = MetricsToken::parse("correct-horse-battery").expect("token");
        assert!(token.matches("correct-horse-battery"));
        assert!(!token.matches("correct-horse-batter"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("horse"));
        assert!(MetricsToken::parse("short").is_err());
        assert!(MetricsToken::parse("has a space in it, long").is_err());
    }
}
