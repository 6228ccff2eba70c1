//! Device records: a browser that has signed in as a user keeps a sealed cookie saying
//! so (OWASP's "device cookies"). A sign-in attempt from such a browser for that user is
//! counted apart from everyone else's attempts (see `throttle::Attempts`), so failures
//! an attacker causes from elsewhere never lock the owner out of their own devices.
//! The record names the user by id and the device by a random id; it grants nothing by
//! itself — the password is still checked, and the device's own counter locks too.

use super::cookie::PrivateCookie;
use crate::server::{context::RequestCtx, keys::Purpose};
use serde::{Deserialize, Serialize};
use tower_cookies::cookie::SameSite;

/// How long a browser stays known after its last sign-in.
const REMEMBERED_SECONDS: i64 = 365 * 86_400;

/// What the sealed device cookie holds.
#[derive(Serialize, Deserialize)]
struct Record {
    user_id: i64,
    device: String,
}

/// The device cookie (`__Host-gatehouse_device` over https).
const DEVICE_COOKIE: PrivateCookie = PrivateCookie {
    plain: "gatehouse_device",
    host: "__Host-gatehouse_device",
    same_site: SameSite::Lax,
};

fn cookie_name(ctx: &RequestCtx) -> &'static str {
    DEVICE_COOKIE.name(ctx.state.config.https)
}

fn read(ctx: &RequestCtx) -> Option<Record> {
    let name = cookie_name(ctx);
    let sealed = ctx.cookies.get(name)?;
    ctx.state
        .keys
        .open_json(Purpose::Device, name.as_bytes(), sealed.value(), ctx.now())
}

/// The id of this browser when it has signed in as `user_id` before.
pub fn trusted(ctx: &RequestCtx, user_id: i64) -> Option<String> {
    read(ctx).filter(|r| r.user_id == user_id).map(|r| r.device)
}

/// Remembers that this browser signed in as `user_id` (keeping its device id when it
/// already was this user's).
pub fn remember(ctx: &RequestCtx, user_id: i64) {
    let device = trusted(ctx, user_id).unwrap_or_else(|| {
        let mut bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        hex::encode(bytes)
    });
    let name = cookie_name(ctx);
    let sealed = ctx.state.keys.seal_json(
        Purpose::Device,
        name.as_bytes(),
        &Record { user_id, device },
        ctx.now() + REMEMBERED_SECONDS,
    );
    ctx.cookies
        .add(DEVICE_COOKIE.build(ctx.state.config.https, sealed, REMEMBERED_SECONDS));
}
