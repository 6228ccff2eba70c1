use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What went wrong, in the terms a client can act on. Each kind has exactly one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 400: the input cannot be accepted as it is.
    BadRequest,
    /// 401: the request needs a signed-in user.
    Unauthorized,
    /// 403: signed in, but not allowed (or a cross-site request).
    Forbidden,
    /// 403: allowed, but only after the user confirms it is them ("sudo mode"): the
    /// browser is sent to `/reauth`, which comes back afterwards.
    ReauthRequired,
    /// 404: no such thing, or not yours.
    NotFound,
    /// 409: conflicts with existing data (a taken username).
    Conflict,
    /// 413: the request body is too large.
    PayloadTooLarge,
    /// 429: throttled; `retry_after` says for how long.
    TooManyRequests,
    /// 503: temporarily unable to serve (overloaded, database down).
    Unavailable,
    /// 500: a bug or an outage; the message carries a request id, never the cause.
    Internal,
}

impl ErrorKind {
    /// The HTTP status code of this kind. Status codes are chosen here and nowhere else.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden | ErrorKind::ReauthRequired => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// The error every server function returns. Its message is safe to show to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    /// Seconds until a throttled request may be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The form field the error is about (its `name`), when it is about one: the page
    /// marks that field invalid and moves the focus to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Message of a sign-in that failed for any credential reason.
pub const MSG_BAD_CREDENTIALS: &str = "Incorrect username or password";
/// Message of a sign-up whose username exists already.
pub const MSG_USERNAME_TAKEN: &str = "That username is taken";
/// Message of a page or action that needs a higher role.
pub const MSG_FORBIDDEN: &str = "You don't have permission to view this page.";
/// Message of an action that needs a recent authentication first.
pub const MSG_REAUTH: &str = "For your safety, confirm it's you first, as if you were to sign in again.";
/// Message of a refused cross-site request.
/// A new password the breached-password check found.
pub const MSG_BREACHED: &str = "This password has appeared in a data breach. Choose another.";
/// Every sign-in of a disabled account.
pub const MSG_DISABLED: &str = "This account is disabled.";
/// A sign-in that ended before it completed: its pending step expired or failed too
/// often, or a change to the account (a new password, "sign out everywhere") came first.
pub const MSG_SIGN_IN_ENDED: &str = "This sign-in has expired or ended. Please sign in again.";
/// Anything refused while an administrator views the app as another user.
pub const MSG_VIEWING_AS: &str = "Not while viewing as another user. Stop viewing first.";
/// The one answer of `/forgot-password`, whatever was typed.
pub const MSG_FORGOT: &str = "If an account matches, we've sent a link to its e-mail address.";
/// A link from an e-mail that is unknown, used or expired.
pub const MSG_LINK_INVALID: &str = "This link has expired or has been used already. Ask for a new one.";
/// An address another account has.
pub const MSG_EMAIL_TAKEN: &str = "That e-mail address is used by another account.";
pub const MSG_CROSS_SITE: &str = "Cross-site request refused";

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            retry_after: None,
            field: None,
        }
    }

    /// The same error, about the form field named `name`.
    #[must_use]
    pub fn on_field(mut self, name: &str) -> Self {
        self.field = Some(name.to_owned());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized, "Please sign in to continue.")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorKind::Forbidden, MSG_FORBIDDEN)
    }

    /// The action changes how the user signs in: it needs a recent authentication.
    pub fn reauth_required() -> Self {
        Self::new(ErrorKind::ReauthRequired, MSG_REAUTH)
    }

    /// Nothing that needs an admin, and nothing that needs the user to prove it is them,
    /// while an administrator views the app as someone else (403).
    pub fn viewing_as() -> Self {
        Self::new(ErrorKind::Forbidden, MSG_VIEWING_AS)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn bad_credentials() -> Self {
        Self::new(ErrorKind::Unauthorized, MSG_BAD_CREDENTIALS)
    }

    pub fn too_many_attempts(retry_after_seconds: u64) -> Self {
        let seconds = retry_after_seconds.max(1);
        AppError {
            retry_after: Some(seconds),
            ..Self::new(
                ErrorKind::TooManyRequests,
                format!("Too many attempts. Try again in {}.", wait_text(seconds)),
            )
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// A failure whose cause is logged under `request_id` and never shown.
    pub fn internal(request_id: &str) -> Self {
        Self::new(
            ErrorKind::Internal,
            format!("Something went wrong on our side. Request id: {request_id}"),
        )
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => {
                AppError::bad_request("The form was incomplete or malformed. Please try again.")
            }
            ServerFnErrorErr::Request(_) => {
                AppError::unavailable("Could not reach the server. Check your connection and try again.")
            }
            ServerFnErrorErr::Registration(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_)
            | ServerFnErrorErr::ServerError(_)
            | ServerFnErrorErr::MiddlewareError(_)
            | ServerFnErrorErr::Serialization(_)
            | ServerFnErrorErr::Response(_) => AppError::new(
                ErrorKind::Internal,
                "Something went wrong on our side. Please try again.",
            ),
        }
    }
}

/// A wait as people say it: "1 second", "42 seconds", and whole minutes (rounded up)
/// from two minutes on, where a count of seconds means little.
pub fn wait_text(seconds: u64) -> String {
    match seconds {
        1 => "1 second".to_owned(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_its_status() {
        let cases = [
            (ErrorKind::BadRequest, 400),
            (ErrorKind::Unauthorized, 401),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::ReauthRequired, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::PayloadTooLarge, 413),
            (ErrorKind::TooManyRequests, 429),
            (ErrorKind::Internal, 500),
            (ErrorKind::Unavailable, 503),
        ];
        for (kind, status) in cases {
            assert_eq!(kind.status(), status);
        }
    }

    #[test]
    fn throttling_message_names_the_wait_in_seconds() {
        let err = AppError::too_many_attempts(42);
        assert_eq!(err.message, "Too many attempts. Try again in 42 seconds.");
        assert_eq!(err.retry_after, Some(42));
        assert_eq!(err.status(), 429);
        assert_eq!(AppError::too_many_attempts(0).retry_after, Some(1));
    }

    #[test]
    fn one_second_is_singular_and_long_waits_are_minutes() {
        let message = |s| AppError::too_many_attempts(s).message;
        assert_eq!(message(1), "Too many attempts. Try again in 1 second.");
        assert_eq!(message(0), "Too many attempts. Try again in 1 second.");
        assert_eq!(message(119), "Too many attempts. Try again in 119 seconds.");
        assert_eq!(message(120), "Too many attempts. Try again in 2 minutes.");
        assert_eq!(message(121), "Too many attempts. Try again in 3 minutes.");
        assert_eq!(message(900), "Too many attempts. Try again in 15 minutes.");
        assert_eq!(AppError::too_many_attempts(900).retry_after, Some(900));
    }

    #[test]
    fn errors_round_trip_through_the_server_fn_encoding() {
        let err = AppError::too_many_attempts(3);
        let back = AppError::de(err.ser());
        assert_eq!(back, err);
        assert_eq!(AppError::de("not json".into()).kind, ErrorKind::BadRequest);
    }
}
