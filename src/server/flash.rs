//! One-read flash values: what a form carries to the next page without putting it in
//! the address — the username typed into a form that failed (people type passwords into
//! the username field; addresses end up in histories and proxy logs), the recovery
//! codes just made (shown once). Each travels in a sealed, HttpOnly cookie that lives a
//! minute or two and is cleared by the page that shows it.

use crate::server::{auth::cookie::PrivateCookie, context::RequestCtx, keys::Purpose};
use serde::{de::DeserializeOwned, Serialize};
use tower_cookies::{cookie::SameSite, Cookie};

/// One kind of flash value: its cookie and what it is sealed for.
struct Flash {
    cookie: PrivateCookie,
    purpose: Purpose,
    seconds: i64,
}

const TYPED_USERNAME: Flash = Flash {
    cookie: PrivateCookie {
        plain: "gatehouse_flash",
        host: "__Host-gatehouse_flash",
        same_site: SameSite::Strict,
    },
    purpose: Purpose::Flash,
    seconds: 60,
};

const RECOVERY_CODES: Flash = Flash {
    cookie: PrivateCookie {
        plain: "gatehouse_codes",
        host: "__Host-gatehouse_codes",
        same_site: SameSite::Strict,
    },
    purpose: Purpose::RecoveryCodesFlash,
    seconds: 120,
};

/// Most characters of a typed username carried back.
const MAX_CHARS: usize = 64;

impl Flash {
    fn name(&self, ctx: &RequestCtx) -> &'static str {
        self.cookie.name(ctx.state.config.https)
    }

    fn cookie(&self, ctx: &RequestCtx, value: String, max_age: i64) -> Cookie<'static> {
        self.cookie.build(ctx.state.config.https, value, max_age)
    }

    fn keep<T: Serialize>(&self, ctx: &RequestCtx, value: &T) {
        let name = self.name(ctx);
        let sealed = ctx
            .state
            .keys
            .seal_json(self.purpose, name.as_bytes(), value, ctx.now() + self.seconds);
        ctx.cookies.add(self.cookie(ctx, sealed, self.seconds));
    }

    fn take<T: DeserializeOwned>(&self, ctx: &RequestCtx) -> Option<T> {
        let name = self.name(ctx);
        let sealed = ctx.read_once(name, |cookies| cookies.add(self.cookie(ctx, String::new(), 0)))?;
        ctx.state
            .keys
            .open_json(self.purpose, name.as_bytes(), &sealed, ctx.now())
    }
}

/// Keeps the username typed into a form that failed, for the page the browser is sent
/// back to.
pub fn keep_typed_username(ctx: &RequestCtx, typed: &str) {
    let typed: String = typed.chars().take(MAX_CHARS).collect();
    TYPED_USERNAME.keep(ctx, &typed);
}

/// The username kept by [`keep_typed_username`], once: the cookie is cleared.
pub fn take_typed_username(ctx: &RequestCtx) -> Option<String> {
    TYPED_USERNAME.take(ctx)
}

/// Keeps recovery codes just made for the page that shows them, once.
pub fn keep_recovery_codes(ctx: &RequestCtx, codes: &[String]) {
    RECOVERY_CODES.keep(ctx, &codes);
}

/// The recovery codes kept by [`keep_recovery_codes`], once.
pub fn take_recovery_codes(ctx: &RequestCtx) -> Option<Vec<String>> {
    RECOVERY_CODES.take(ctx)
}
