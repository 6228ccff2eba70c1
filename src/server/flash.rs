//! One-read flash values: what a form posted without JavaScript carries back to its page
//! besides the error — the username that was typed — without putting it in the address
//! (people type passwords into the username field; addresses end up in histories and
//! proxy logs). The value travels in a sealed, HttpOnly cookie that lives a minute and
//! is cleared by the page that shows it.

use crate::server::{context::RequestCtx, db::now_seconds, keys::Purpose};
use tower_cookies::{
    cookie::{time::Duration as CookieDuration, SameSite},
    Cookie,
};

/// How long a flash value waits for its page.
const FLASH_SECONDS: i64 = 60;
/// Most characters of a typed username carried back.
const MAX_CHARS: usize = 64;

fn cookie_name(ctx: &RequestCtx) -> &'static str {
    if ctx.state.config.https {
        "__Host-gatehouse_flash"
    } else {
        "gatehouse_flash"
    }
}

fn cookie(ctx: &RequestCtx, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build((cookie_name(ctx), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(ctx.state.config.https)
        .path("/")
        .max_age(CookieDuration::seconds(max_age))
        .build()
}

/// Keeps the username typed into a form that failed, for the page the browser is sent
/// back to.
pub fn keep_typed_username(ctx: &RequestCtx, typed: &str) {
    let typed: String = typed.chars().take(MAX_CHARS).collect();
    let name = cookie_name(ctx);
    let sealed = ctx.state.keys.seal_json(
        Purpose::Flash,
        name.as_bytes(),
        &typed,
        now_seconds() + FLASH_SECONDS,
    );
    ctx.cookies.add(cookie(ctx, sealed, FLASH_SECONDS));
}

/// The username kept by [`keep_typed_username`], once: the cookie is cleared.
pub fn take_typed_username(ctx: &RequestCtx) -> Option<String> {
    let name = cookie_name(ctx);
    let sealed = ctx.cookies.get(name)?.value().to_owned();
    ctx.cookies.add(cookie(ctx, String::new(), 0));
    ctx.state
        .keys
        .open_json(Purpose::Flash, name.as_bytes(), &sealed, now_seconds())
}
