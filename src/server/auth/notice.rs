//! Security notices: a message to the account's verified address when something about
//! how it signs in changes (docs/email.md "What each message says"). Queued in the caller's transaction,
//! so a notice goes out only if the change commits.

use crate::{
    model::AppError,
    server::{
        context::RequestCtx,
        db::{users, Tx},
        mail::{self, Template},
    },
};

/// Queues a notice to the user's verified address, if they have one, in `tx`.
pub async fn notify(tx: &mut Tx, ctx: &RequestCtx, user_id: i64, notice: Notice<'_>) -> Result<(), AppError> {
    let Some(user) = users::find_by_id(tx.exec(), user_id).await? else {
        return Ok(());
    };
    let Some(to) = user.verified_email() else {
        return Ok(());
    };
    let username = user.username.as_str();
    let at = ctx.now();
    let device = crate::server::user_agent::describe(ctx.client.user_agent.as_deref());
    let ip = ctx.client.ip.as_deref().unwrap_or("unknown");
    // A name the user typed (a passkey's) reaches the message without the characters
    // that could make it read as something else.
    let shown_name;
    let template = match notice {
        Notice::PasswordChanged => Template::PasswordChanged { username, at },
        Notice::TwoFactorOff => Template::TwoFactorOff { username, at },
        Notice::TwoFactorOn => Template::TwoFactorOn { username, at },
        Notice::RecoveryCodesRegenerated => Template::RecoveryCodesRegenerated { username, at },
        Notice::PasskeyAdded { name } => {
            shown_name = crate::domain::strip_invisible(name);
            Template::PasskeyAdded {
                username,
                name: &shown_name,
                at,
            }
        }
        Notice::ProviderLinked { provider } => Template::ProviderLinked {
            username,
            provider: provider.label(),
            at,
        },
        Notice::NewDevice => Template::NewDevice {
            username,
            device: &device,
            ip,
            at,
        },
    };
    mail::queue(tx.exec(), &ctx.state, to, &template).await?;
    Ok(())
}

/// A security notice to the account's verified address (the e-mail change notice goes
/// to the old address, from `email::verify`).
#[derive(Clone, Copy, Debug)]
pub enum Notice<'a> {
    PasswordChanged,
    TwoFactorOff,
    TwoFactorOn,
    RecoveryCodesRegenerated,
    PasskeyAdded {
        name: &'a str,
    },
    ProviderLinked {
        provider: crate::model::Provider,
    },
    /// A sign-in from this request's browser, which had not signed in to the account.
    NewDevice,
}
