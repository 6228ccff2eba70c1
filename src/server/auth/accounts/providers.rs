//! Accounts at GitHub and Google: signing in with one (finding the linked user or
//! creating one), connecting one to the signed-in user, and disconnecting it. The OAuth
//! flow itself (redirects, callback, flow cookie) is in `auth::oauth`.

use crate::{
    model::{AppError, AuditKind, Provider, SessionUser},
    server::{
        audit::{self, Event},
        auth::{
            oauth::{candidate, derive_username, ProviderUser},
            sessions::{self, How},
            throttle,
            two_factor::{after_first_factor, FirstFactor, FirstFactorProven, SignIn},
        },
        context::RequestCtx,
        db::{
            oauth,
            users::{self, Inserted, NewUser, Profile},
            Tx,
        },
    },
};

/// What connecting a provider account to the signed-in user came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linking {
    /// Connected now.
    Linked,
    /// It was connected to this user already.
    AlreadyYours,
    /// The provider account belongs to another user.
    LinkedElsewhere,
    /// The user has another account at this provider connected.
    ProviderTaken,
}

/// Signs in the user linked to the provider account, creating one first if there is
/// none: a new session, or — for a user with two-factor sign-in on (a provider account
/// is a first factor) — a pending sign-in that goes on to `next` once complete.
pub async fn sign_in(ctx: &RequestCtx, who: &ProviderUser, next: &str) -> Result<SignIn, AppError> {
    // A new account's name can be taken between looking and inserting (PostgreSQL can't
    // carry on in a transaction after a unique violation): try the whole thing again.
    for _ in 0..3 {
        let mut tx = ctx.state.db.begin().await?;
        let Some(Found {
            user,
            new_account,
            credentials_version,
        }) = find_or_create(&mut tx, ctx, who).await?
        else {
            continue;
        };
        if new_account {
            let how = How::Provider {
                provider: who.provider,
                new_account,
            };
            sessions::start(tx, ctx, &user, how, credentials_version).await?;
            return Ok(SignIn::Complete(user));
        }
        let proven = FirstFactorProven {
            user: &user,
            first: FirstFactor::Provider(who.provider),
            next,
            credentials_version,
            attempts: None,
        };
        return after_first_factor(tx, ctx, proven).await;
    }
    Err(AppError::conflict(
        "Could not create an account right now. Please try again.",
    ))
}

/// The user a provider sign-in found or made.
struct Found {
    user: SessionUser,
    /// Made by this sign-in.
    new_account: bool,
    credentials_version: i64,
}

/// The user linked to `who` (with a fresh avatar), or a new user linked to it.
/// `None` when a concurrent request took the name or the link: start again.
async fn find_or_create(
    tx: &mut Tx,
    ctx: &RequestCtx,
    who: &ProviderUser,
) -> Result<Option<Found>, AppError> {
    let provider = who.provider.as_str();
    if let Some(link) = oauth::find(tx.exec(), provider, &who.id).await? {
        let mut user = users::find_by_id(tx.exec(), link.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("The linked account no longer exists."))?;
        if who.avatar_url.is_some() && who.avatar_url != user.avatar_url {
            users::set_avatar(tx.exec(), user.id, who.avatar_url.as_deref()).await?;
            user.avatar_url = who.avatar_url.clone();
        }
        return Ok(Some(Found {
            user: user.to_session_user(),
            new_account: false,
            credentials_version: user.credentials_version,
        }));
    }
    let base = derive_username(&who.username_hint);
    let mut chosen = None;
    for n in 1..=100 {
        let Some(name) = candidate(&base, n) else { continue };
        if !users::key_exists(tx.exec(), name.key()).await? {
            chosen = Some(name);
            break;
        }
    }
    let name = match chosen {
        Some(name) => name,
        None => {
            let suffix: u32 = rand::random::<u32>() % 1_000_000;
            candidate(&base, suffix.max(101)).ok_or_else(|| AppError::internal("unknown"))?
        }
    };
    // A verified address from the provider fills the account's (empty) address, unless
    // another account has it: an address never links or merges accounts.
    let email = match who.email.as_deref() {
        Some(email)
            if users::find_by_email_key(tx.exec(), &users::email_key(email))
                .await?
                .is_none() =>
        {
            Some(email)
        }
        _ => None,
    };
    let new_user = NewUser {
        name: &name,
        password_hash: None,
        role: ctx.state.config.default_role,
        profile: Profile {
            display_name: who.name.as_deref(),
            avatar_url: who.avatar_url.as_deref(),
            email,
            email_verified: true,
        },
    };
    let Inserted::Created(user) = users::insert(tx.exec(), &new_user, ctx.now()).await? else {
        return Ok(None);
    };
    if insert_link(tx, who, user.id, ctx.now()).await? == oauth::Linked::Conflict {
        // Another request linked this provider account a moment ago.
        return Ok(None);
    }
    Ok(Some(Found {
        user,
        new_account: true,
        credentials_version: users::FIRST_CREDENTIALS_VERSION,
    }))
}

async fn insert_link(
    tx: &mut Tx,
    who: &ProviderUser,
    user_id: i64,
    now: i64,
) -> Result<oauth::Linked, AppError> {
    let link = oauth::Link {
        provider: who.provider.as_str().to_owned(),
        provider_user_id: who.id.clone(),
        user_id,
        display: Some(who.display.clone()),
        created_at: now,
    };
    Ok(oauth::insert(tx.exec(), &link).await?)
}

/// Connects a provider account to the signed-in user.
pub async fn link(ctx: &RequestCtx, who: &ProviderUser) -> Result<Linking, AppError> {
    let auth = ctx.user()?;
    let mut tx = ctx.state.db.begin().await?;
    if let Some(existing) = oauth::find(tx.exec(), who.provider.as_str(), &who.id).await? {
        return Ok(if existing.user_id == auth.user.id {
            Linking::AlreadyYours
        } else {
            Linking::LinkedElsewhere
        });
    }
    if insert_link(&mut tx, who, auth.user.id, ctx.now()).await? == oauth::Linked::Conflict {
        return Ok(Linking::ProviderTaken);
    }
    let detail = format!("{} ({})", who.provider.label(), who.display);
    let event = Event::about(AuditKind::OauthLinked, auth.user.id, &auth.user.username).detail(&detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    let notice = crate::server::auth::notice::Notice::ProviderLinked {
        provider: who.provider,
    };
    crate::server::auth::notice::notify(&mut tx, ctx, auth.user.id, notice).await?;
    tx.commit().await?;
    ctx.state.mailer.wake();
    Ok(Linking::Linked)
}

/// Confirms the signed-in user by a provider round-trip: the provider account must be
/// linked to them. The session then counts as recently authenticated.
pub async fn confirm(ctx: &RequestCtx, who: &ProviderUser) -> Result<(), AppError> {
    let auth = ctx.user()?;
    let mut conn = ctx.state.db.conn().await?;
    let link = oauth::find(conn.exec(), who.provider.as_str(), &who.id).await?;
    if link.map(|l| l.user_id) != Some(auth.user.id) {
        return Err(AppError::bad_request(format!(
            "That {} account is not connected to your account.",
            who.provider.label()
        )));
    }
    // Every factor was right (the code, when it is on, before the round-trip): the
    // lock-out counter it counted on is cleared.
    if let Some(user) = users::find_by_id(conn.exec(), auth.user.id).await? {
        throttle::succeeded(conn.exec(), &throttle::attempts_of(ctx, &user)).await?;
    }
    drop(conn);
    super::confirmed(ctx, who.provider.label()).await
}

/// Disconnects a provider from the signed-in user, unless it is their last way to sign
/// in. Removing a way in needs a recent authentication.
pub async fn unlink(ctx: &RequestCtx, provider: Provider) -> Result<(), AppError> {
    let auth = ctx.require_recent()?;
    let user_id = auth.user.id;
    let mut tx = ctx.state.db.begin().await?;
    let ways = super::lock_ways_in(&mut tx, user_id).await?;
    if !ways.providers.iter().any(|p| p == provider.as_str()) {
        return Err(AppError::not_found(format!(
            "No {} account is connected.",
            provider.label()
        )));
    }
    if ways.count() <= 1 {
        return Err(AppError::conflict(format!(
            "{} is your only way to sign in. Set a password first.",
            provider.label()
        )));
    }
    let user = ways.user;
    oauth::delete(tx.exec(), user_id, provider.as_str()).await?;
    let event = Event::about(AuditKind::OauthUnlinked, user_id, &user.username).detail(provider.label());
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    Ok(())
}
