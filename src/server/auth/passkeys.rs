//! Passkeys (WebAuthn), on `webauthn-rs` (docs/accounts.md "Passkeys").
//!
//! - The relying party is the public URL: its host is the RP id, its origin the only
//!   origin accepted. With an IP-address public URL there is no relying party and every
//!   passkey endpoint answers 404 (WebAuthn refuses IP addresses).
//! - Registration asks for a discoverable credential (`residentKey: "required"`) with
//!   user verification, so signing in needs no username. webauthn-rs's passkey
//!   registration asks for `"discouraged"`; its options are changed before they are sent,
//!   which the crate's verification does not depend on (it can't: whether a credential is
//!   discoverable is the authenticator's business and not reported reliably).
//! - A ceremony's state is kept in the `ceremonies` table (the crate's
//!   `danger-allow-state-serialisation` feature: it is serialised to be stored in the
//!   database, never given to the browser), found by the hash of a random handle in this
//!   browser's cookie; it is taken out by the first answer, and lasts five minutes.
//! - A passkey sign-in is verified with user verification required: it is two factors
//!   in one, so it skips the TOTP prompt, and goes through `sessions::start` like every
//!   sign-in (a fresh session: a recent authentication).
//! - A signature counter that does not move forward refuses the sign-in and is audited
//!   (`passkey_counter_error`): the passkey may have been cloned.

use super::{
    accounts,
    cookie::PrivateCookie,
    sessions::{self, How},
    throttle::{self, Action},
};
use crate::{
    domain::LocalPath,
    model::{AppError, AuditKind, ErrorKind, PasskeyInfo},
    server::{
        audit::{self, Event},
        context::RequestCtx,
        db::{ceremonies, passkeys, users},
        identity::ceremony::{self, Handle, Kind},
    },
};
use axum::{
    body::Bytes,
    response::{IntoResponse, Response},
};
use data_encoding::BASE64URL_NOPAD;
use http::{header, HeaderValue, StatusCode};
use serde::Deserialize;
use tower_cookies::cookie::SameSite;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

/// How long a ceremony waits for its answer.
pub const CHALLENGE_SECONDS: i64 = 300;
/// Longest passkey name, in characters.
pub const NAME_MAX_CHARS: usize = 64;
/// The name of a passkey added without one.
const DEFAULT_NAME: &str = "Passkey";

/// What a registration keeps between its two requests.
#[derive(serde::Serialize, Deserialize)]
struct Registering {
    /// The name the passkey will have.
    name: String,
    state: PasskeyRegistration,
}

pub const MSG_EXPIRED: &str = "This passkey request has expired. Please try again.";
pub const MSG_UNKNOWN: &str = "This passkey is not registered here.";
pub const MSG_NOT_VERIFIED: &str = "The passkey could not be verified.";
pub const MSG_COUNTER: &str =
    "This passkey's signature counter went backwards: it may have been copied. Sign in another way and remove it.";
pub const MSG_LAST_WAY: &str =
    "This passkey is your only way to sign in. Set a password or connect an account first.";

/// The ceremony cookie (`__Host-gatehouse_passkey` over https). The JSON endpoints are
/// called by this site's own script, so `Strict` costs nothing.
const CHALLENGE_COOKIE: PrivateCookie = PrivateCookie {
    plain: "gatehouse_passkey",
    host: "__Host-gatehouse_passkey",
    same_site: SameSite::Strict,
};

/// Stores a ceremony (what it keeps, serialised: never given to the browser) and gives
/// this browser its handle.
async fn begin_ceremony(
    ctx: &RequestCtx,
    kind: Kind,
    user_id: Option<i64>,
    kept: &impl serde::Serialize,
    next: &str,
) -> Result<(), AppError> {
    let payload = serde_json::to_string(kept).map_err(anyhow::Error::from)?;
    let handle = Handle::generate();
    let now = ctx.now();
    let mut conn = ctx.state.db.conn().await?;
    ceremonies::begin(
        conn.exec(),
        &ceremonies::NewCeremony {
            id: &handle.id(),
            kind,
            user_id,
            payload: &payload,
            next,
            credentials_version: 0,
            expires_at: now + CHALLENGE_SECONDS,
            now,
        },
    )
    .await?;
    let https = ctx.state.config.https;
    ctx.cookies
        .add(CHALLENGE_COOKIE.build(https, handle.expose().to_owned(), CHALLENGE_SECONDS));
    Ok(())
}

/// Takes this browser's ceremony of `kind` out (whatever comes of the answer, it is
/// answered once). `None` when there is none, it expired, or it is of another kind.
async fn take_ceremony(ctx: &RequestCtx, kind: Kind) -> Result<Option<ceremonies::CeremonyRow>, AppError> {
    let https = ctx.state.config.https;
    let Some(handle) = ctx
        .cookies
        .get(CHALLENGE_COOKIE.name(https))
        .map(|c| c.value().to_owned())
    else {
        return Ok(None);
    };
    ctx.cookies.add(CHALLENGE_COOKIE.build(https, String::new(), 0));
    let mut conn = ctx.state.db.conn().await?;
    Ok(ceremonies::take(conn.exec(), &ceremony::id_of(&handle), kind, ctx.now()).await?)
}

/// A passkey name as typed: without invisible characters (control, format and bidi
/// characters are stripped: the name appears in lists and notices, where they could
/// disguise it), trimmed, not too long.
pub fn clean_name(raw: Option<&str>) -> Result<String, AppError> {
    let stripped = crate::domain::strip_invisible(raw.unwrap_or_default());
    let name = stripped.trim();
    if name.is_empty() {
        return Ok(DEFAULT_NAME.to_owned());
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::bad_request(format!(
            "A passkey name has at most {NAME_MAX_CHARS} characters."
        )));
    }
    Ok(name.to_owned())
}

fn credential_key(id: &[u8]) -> String {
    BASE64URL_NOPAD.encode(id)
}

fn stored_passkey(row: &passkeys::PasskeyRow) -> Result<Passkey, AppError> {
    serde_json::from_str(&row.credential)
        .map_err(|e| AppError::from(anyhow::anyhow!("passkey {} does not parse: {e}", row.id)))
}

/// The counter and backup flags of a credential, from its stored form (the crate keeps
/// them private without its `danger-credential-internals` feature).
fn flags_of(passkey: &Passkey) -> (i64, bool, bool) {
    let value = serde_json::to_value(passkey).unwrap_or_default();
    let cred = &value["cred"];
    (
        cred["counter"].as_i64().unwrap_or(0),
        cred["backup_eligible"].as_bool().unwrap_or(false),
        cred["backup_state"].as_bool().unwrap_or(false),
    )
}

/// The signed-in user's passkeys, for `/settings/security`.
pub async fn list(ctx: &RequestCtx, user_id: i64) -> Result<Vec<PasskeyInfo>, AppError> {
    let mut conn = ctx.state.db.conn().await?;
    let rows = passkeys::for_user(conn.exec(), user_id).await?;
    Ok(rows
        .into_iter()
        .map(|r| PasskeyInfo {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            backed_up: r.backup_state != 0,
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
struct RegisterOptionsBody {
    name: Option<String>,
}

/// Starts adding a passkey to the signed-in account (recent authentication).
pub async fn register_options(
    ctx: &RequestCtx,
    name: Option<&str>,
) -> Result<CreationChallengeResponse, AppError> {
    let webauthn = ctx.state.passkeys.get()?;
    let auth = ctx.require_recent()?;
    let name = clean_name(name)?;
    let user = &auth.user;
    let mut tx = ctx.state.db.begin().await?;
    let handle = passkeys::ensure_handle(tx.exec(), user.id, &Uuid::new_v4().to_string()).await?;
    let existing = passkeys::for_user(tx.exec(), user.id).await?;
    tx.commit().await?;
    let handle = Uuid::parse_str(&handle).map_err(anyhow::Error::from)?;
    let exclude = existing
        .iter()
        .map(|row| stored_passkey(row).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let display_name = user.display_name.as_deref().unwrap_or(&user.username);
    let (mut options, state): (CreationChallengeResponse, PasskeyRegistration) = webauthn
        .start_passkey_registration(handle, &user.username, display_name, Some(exclude))
        .map_err(|e| AppError::from(anyhow::anyhow!("start a passkey registration: {e}")))?;
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    let kept = Registering { name, state };
    begin_ceremony(ctx, Kind::PasskeyRegistration, Some(user.id), &kept, "").await?;
    Ok(options)
}

/// Finishes adding a passkey: the browser's new credential, checked against the
/// ceremony this browser started.
pub async fn register(
    ctx: &RequestCtx,
    credential: &RegisterPublicKeyCredential,
) -> Result<PasskeyInfo, AppError> {
    let webauthn = ctx.state.passkeys.get()?;
    let auth = ctx.require_recent()?;
    let ceremony = take_ceremony(ctx, Kind::PasskeyRegistration)
        .await?
        .filter(|c| c.user_id == Some(auth.user.id))
        .ok_or_else(|| AppError::bad_request(MSG_EXPIRED))?;
    let Registering { name, state } = serde_json::from_str(&ceremony.payload).map_err(anyhow::Error::from)?;
    let passkey = webauthn
        .finish_passkey_registration(credential, &state)
        .map_err(|e| {
            tracing::info!(user_id = auth.user.id, error = %e, "passkey registration refused");
            AppError::bad_request("The passkey could not be registered.")
        })?;
    let (sign_count, backup_eligible, backup_state) = flags_of(&passkey);
    let stored = serde_json::to_string(&passkey).map_err(anyhow::Error::from)?;
    let now = ctx.now();
    let mut tx = ctx.state.db.begin().await?;
    let new = passkeys::NewPasskey {
        credential_id: &credential_key(passkey.cred_id()),
        user_id: auth.user.id,
        credential: &stored,
        name: &name,
        created_at: now,
        sign_count,
        backup_eligible,
        backup_state,
    };
    let Some(id) = passkeys::insert(tx.exec(), &new).await? else {
        return Err(AppError::conflict("This passkey is registered already."));
    };
    let event = Event::about(AuditKind::PasskeyAdded, auth.user.id, &auth.user.username).detail(&name);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    let notice = super::notice::Notice::PasskeyAdded { name: &name };
    super::notice::notify(&mut tx, ctx, auth.user.id, notice).await?;
    tx.commit().await?;
    ctx.state.mailer.wake();
    tracing::info!(user_id = auth.user.id, "passkey added");
    Ok(PasskeyInfo {
        id,
        name,
        created_at: now,
        last_used_at: None,
        backed_up: backup_state,
    })
}

#[derive(Debug, Default, Deserialize)]
struct LoginOptionsBody {
    next: Option<String>,
}

/// Starts a sign-in with a discoverable passkey (no username). Every view of `/login`
/// asks for one, for autofill, so it does not spend the client's sign-in allowance (the
/// assertion does, in [`login`]); an allowance of its own, ten times as large
/// ([`throttle::ceremony_allowance`]), bounds the challenges one client can have stored.
pub async fn login_options(
    ctx: &RequestCtx,
    next: Option<&str>,
) -> Result<RequestChallengeResponse, AppError> {
    let webauthn = ctx.state.passkeys.get()?;
    throttle::ceremony_allowance(ctx, "passkey-options", "passkey challenges for this address").await?;
    let (mut options, state): (RequestChallengeResponse, DiscoverableAuthentication) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| AppError::from(anyhow::anyhow!("start a passkey sign-in: {e}")))?;
    // The page decides between the button (modal) and autofill (conditional).
    options.mediation = None;
    let next = LocalPath::or_profile(next);
    begin_ceremony(ctx, Kind::PasskeySignIn, None, &state, &next).await?;
    Ok(options)
}

fn refused(message: &str) -> AppError {
    AppError::new(ErrorKind::Unauthorized, message)
}

/// Finishes a passkey sign-in: verifies the assertion against this browser's challenge
/// and the stored credential, then issues the session. Answers where to go.
pub async fn login(ctx: &RequestCtx, credential: &PublicKeyCredential) -> Result<String, AppError> {
    let webauthn = ctx.state.passkeys.get()?;
    // The attempt is what counts towards the client's sign-in allowance.
    let mut conn = ctx.state.db.conn().await?;
    throttle::check_client(conn.exec(), ctx, Action::SignIn)
        .await?
        .or_refuse()?;
    drop(conn);
    let ceremony = take_ceremony(ctx, Kind::PasskeySignIn)
        .await?
        .ok_or_else(|| refused(MSG_EXPIRED))?;
    let state: DiscoverableAuthentication =
        serde_json::from_str(&ceremony.payload).map_err(anyhow::Error::from)?;
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(credential)
        .map_err(|_| refused(MSG_UNKNOWN))?;
    let mut conn = ctx.state.db.conn().await?;
    let Some(row) = passkeys::by_credential_id(conn.exec(), &credential_key(credential_id)).await? else {
        return Err(refused(MSG_UNKNOWN));
    };
    // The authenticator's user handle must be the owner's: a credential is never taken
    // for another account's.
    let owner_handle = passkeys::handle(conn.exec(), row.user_id).await?;
    if owner_handle.as_deref() != Some(handle.to_string().as_str()) {
        return Err(refused(MSG_UNKNOWN));
    }
    let Some(user) = users::find_by_id(conn.exec(), row.user_id).await? else {
        return Err(refused(MSG_UNKNOWN));
    };
    drop(conn);
    let mut passkey = stored_passkey(&row)?;
    let result = match webauthn.finish_discoverable_authentication_v2(credential, state, &passkey) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            let mut conn = ctx.state.db.conn().await?;
            let event =
                Event::about(AuditKind::PasskeyCounterError, user.id, &user.username).detail(&row.name);
            audit::record(conn.exec(), &ctx.client, ctx.now(), event).await?;
            tracing::warn!(
                user_id = user.id,
                passkey = row.id,
                "passkey counter went backwards"
            );
            return Err(refused(MSG_COUNTER));
        }
        Err(e) => {
            tracing::info!(user_id = user.id, error = %e, "passkey sign-in refused");
            return Err(refused(MSG_NOT_VERIFIED));
        }
    };
    if !result.user_verified() {
        return Err(refused(MSG_NOT_VERIFIED));
    }
    passkey.update_credential(&result);
    let stored = serde_json::to_string(&passkey).map_err(anyhow::Error::from)?;
    let count = i64::from(result.counter());
    let mut tx = ctx.state.db.begin().await?;
    let recorded = passkeys::record_use(
        tx.exec(),
        row.id,
        &stored,
        row.sign_count,
        count,
        result.backup_state(),
        ctx.now(),
    )
    .await?;
    if !recorded {
        // Another sign-in with this passkey moved its counter meanwhile.
        return Err(refused(MSG_NOT_VERIFIED));
    }
    // The version read before the assertion was verified.
    let version = user.credentials_version;
    sessions::start(tx, ctx, &user.to_session_user(), How::Passkey, version).await?;
    Ok(LocalPath::or_profile(Some(&ceremony.next)))
}

/// Renames one of the signed-in user's passkeys.
pub async fn rename(ctx: &RequestCtx, id: i64, name: &str) -> Result<(), AppError> {
    let auth = ctx.user()?;
    let name = clean_name(Some(name))?;
    let mut conn = ctx.state.db.conn().await?;
    if !passkeys::rename(conn.exec(), auth.user.id, id, &name).await? {
        return Err(AppError::not_found("No such passkey."));
    }
    Ok(())
}

/// Removes one of the signed-in user's passkeys (recent authentication), unless it is
/// their last way to sign in.
pub async fn remove(ctx: &RequestCtx, id: i64) -> Result<(), AppError> {
    let auth = ctx.require_recent()?;
    let user_id = auth.user.id;
    let mut tx = ctx.state.db.begin().await?;
    let ways = accounts::lock_ways_in(&mut tx, user_id).await?;
    if !ways.passkeys.contains(&id) {
        return Err(AppError::not_found("No such passkey."));
    }
    if ways.count() <= 1 {
        return Err(AppError::conflict(MSG_LAST_WAY));
    }
    let user = ways.user;
    let Some(name) = passkeys::delete(tx.exec(), user_id, id).await? else {
        return Err(AppError::not_found("No such passkey."));
    };
    let event = Event::about(AuditKind::PasskeyRemoved, user_id, &user.username).detail(&name);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    Ok(())
}

// The four JSON endpoints (docs/accounts.md "Passkeys", API). Errors are `{"error": "…"}` with the status of
// their kind; bodies that are not the expected JSON are a 400; on a site without
// passkeys every one is a 404, whatever it was sent.

fn json_error(error: &AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = serde_json::json!({ "error": error.message });
    if error.kind == ErrorKind::ReauthRequired {
        body["reauth"] = serde_json::Value::from("/reauth?next=%2Fsettings%2Fsecurity");
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = error.retry_after {
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

fn answer<T: serde::Serialize>(status: StatusCode, result: Result<T, AppError>) -> Response {
    match result {
        Ok(value) => (status, axum::Json(value)).into_response(),
        Err(error) => json_error(&error),
    }
}

/// The JSON body, or an empty one when there is none (the options endpoints).
fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes, required: bool) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) && !required {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|_| AppError::bad_request("The request is not the expected JSON."))
}

fn parse_credential<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(body)
        .map_err(|_| AppError::bad_request("The request is not a WebAuthn credential."))
}

/// `POST /auth/passkey/register/options`
pub async fn register_options_endpoint(ctx: RequestCtx, body: Bytes) -> Response {
    let result = async {
        ctx.state.passkeys.get()?;
        let body: RegisterOptionsBody = parse_body(&body, false)?;
        register_options(&ctx, body.name.as_deref()).await
    }
    .await;
    answer(StatusCode::OK, result)
}

/// `POST /auth/passkey/register`
pub async fn register_endpoint(ctx: RequestCtx, body: Bytes) -> Response {
    let result = async {
        ctx.state.passkeys.get()?;
        let credential: RegisterPublicKeyCredential = parse_credential(&body)?;
        register(&ctx, &credential).await
    }
    .await;
    answer(StatusCode::CREATED, result)
}

/// `POST /auth/passkey/login/options`
pub async fn login_options_endpoint(ctx: RequestCtx, body: Bytes) -> Response {
    let result = async {
        ctx.state.passkeys.get()?;
        let body: LoginOptionsBody = parse_body(&body, false)?;
        login_options(&ctx, body.next.as_deref()).await
    }
    .await;
    answer(StatusCode::OK, result)
}

/// `POST /auth/passkey/login`
pub async fn login_endpoint(ctx: RequestCtx, body: Bytes) -> Response {
    let result = async {
        ctx.state.passkeys.get()?;
        let credential: PublicKeyCredential = parse_credential(&body)?;
        login(&ctx, &credential).await
    }
    .await;
    answer(
        StatusCode::OK,
        result.map(|redirect| serde_json::json!({ "redirect": redirect })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(clean_name(None).ok().as_deref(), Some(DEFAULT_NAME));
        assert_eq!(clean_name(Some("   ")).ok().as_deref(), Some(DEFAULT_NAME));
        assert_eq!(clean_name(Some("  Laptop ")).ok().as_deref(), Some("Laptop"));
        assert!(clean_name(Some(&"é".repeat(NAME_MAX_CHARS))).is_ok());
        assert!(clean_name(Some(&"é".repeat(NAME_MAX_CHARS + 1))).is_err());
        // Invisible characters are taken out, not refused: what is left is the name.
        assert_eq!(clean_name(Some("a\u{7}b")).ok().as_deref(), Some("ab"));
        assert_eq!(
            clean_name(Some("Phone\u{202E}gnp.exe")).ok().as_deref(),
            Some("Phonegnp.exe")
        );
        assert_eq!(
            clean_name(Some("\u{200B}\u{2066}")).ok().as_deref(),
            Some(DEFAULT_NAME)
        );
    }
}
