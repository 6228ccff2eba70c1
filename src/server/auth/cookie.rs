//! The site's own cookies. The session cookie is `gatehouse_session`, or
//! `__Host-gatehouse_session` with `Secure` when the public URL is https; always
//! HttpOnly, SameSite=Lax, Path=/. The others (OAuth flow, device record, pending
//! sign-in, flash values) follow the same rule through [`PrivateCookie`].

use tower_cookies::{
    cookie::{time::Duration as CookieDuration, time::OffsetDateTime, SameSite},
    Cookie, Cookies,
};

/// A cookie only this server reads: HttpOnly and `Path=/` always; over https `Secure`
/// and named with the `__Host-` prefix (this exact origin, no `Domain`).
#[derive(Clone, Copy, Debug)]
pub struct PrivateCookie {
    /// The name over plain http.
    pub plain: &'static str,
    /// The name over https.
    pub host: &'static str,
    pub same_site: SameSite,
}

impl PrivateCookie {
    pub fn name(&self, https: bool) -> &'static str {
        if https {
            self.host
        } else {
            self.plain
        }
    }

    /// The cookie carrying `value` for `max_age` seconds (`0`: removes it).
    pub fn build(&self, https: bool, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build((self.name(https), value))
            .http_only(true)
            .same_site(self.same_site)
            .secure(https)
            .path("/")
            .max_age(CookieDuration::seconds(max_age))
            .build()
    }
}

/// Cookie name over plain http (development, tests).
pub const PLAIN_NAME: &str = "gatehouse_session";
/// Cookie name over https: the `__Host-` prefix pins it to this exact origin.
pub const HOST_NAME: &str = "__Host-gatehouse_session";

/// Builds session cookies for one deployment.
#[derive(Clone, Copy, Debug)]
pub struct SessionCookie {
    secure: bool,
}

impl SessionCookie {
    pub fn new(https: bool) -> SessionCookie {
        SessionCookie { secure: https }
    }

    pub fn name(&self) -> &'static str {
        if self.secure {
            HOST_NAME
        } else {
            PLAIN_NAME
        }
    }

    fn base(&self, value: String) -> Cookie<'static> {
        Cookie::build((self.name(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.secure)
            .build()
    }

    /// The cookie carrying `token` until `expires_at` (unix seconds).
    pub fn issue(&self, cookies: &Cookies, token: &str, expires_at: i64) {
        let mut cookie = self.base(token.to_owned());
        let now = OffsetDateTime::now_utc().unix_timestamp();
        cookie.set_max_age(tower_cookies::cookie::time::Duration::seconds(
            (expires_at - now).max(0),
        ));
        if let Ok(at) = OffsetDateTime::from_unix_timestamp(expires_at) {
            cookie.set_expires(at);
        }
        cookies.add(cookie);
    }

    /// A blank cookie with `Max-Age=0`, carrying the same attributes so that browsers
    /// accept it as a replacement (a `__Host-` cookie can only be removed by one that is
    /// `Secure` with `Path=/`).
    pub fn clear(&self, cookies: &Cookies) {
        let mut cookie = self.base(String::new());
        cookie.set_max_age(tower_cookies::cookie::time::Duration::ZERO);
        cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
        cookies.add(cookie);
    }

    /// The token value the request carried, if any.
    pub fn read(&self, cookies: &Cookies) -> Option<String> {
        cookies.get(self.name()).map(|c| c.value().to_owned())
    }
}
