//! The site's own cookies. The session cookie is named after the app
//! (`GATEHOUSE_APP_NAME`): `gatehouse_session` by default, or `__Host-gatehouse_session`
//! with `Secure` when the public URL is https; always HttpOnly, SameSite=Lax, Path=/. The others (OAuth flow, device record, pending
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

/// The cookie of an administrator's "view as" session (`auth::view_as`), held beside
/// their own session's.
pub const VIEW_AS_COOKIE: PrivateCookie = PrivateCookie {
    plain: "gatehouse_view_as",
    host: "__Host-gatehouse_view_as",
    same_site: SameSite::Lax,
};

/// Removes the view cookie, if the request carried one (signing in or out, stopping).
pub fn clear_view(cookies: &Cookies, https: bool) {
    if cookies.get(VIEW_AS_COOKIE.name(https)).is_some() {
        cookies.add(VIEW_AS_COOKIE.build(https, String::new(), 0));
    }
}

/// The session cookie's name for an app called `app_name`: its letters and digits in
/// lower case, anything else one `_`, then `_session` (`Acme Books` → `acme_books_session`);
/// `gatehouse_session` when nothing of the name is left. Over https the `__Host-` prefix
/// pins it to this exact origin.
pub fn session_cookie_name(app_name: &str, https: bool) -> String {
    let mut stem = String::new();
    for c in app_name.chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('_') {
            stem.push('_');
        }
    }
    let stem = match stem.trim_end_matches('_') {
        "" => "gatehouse",
        stem => stem,
    };
    let prefix = if https { "__Host-" } else { "" };
    format!("{prefix}{stem}_session")
}

/// Builds session cookies for one deployment.
#[derive(Clone, Debug)]
pub struct SessionCookie {
    secure: bool,
    name: std::sync::Arc<str>,
}

impl SessionCookie {
    pub fn new(https: bool, app_name: &str) -> SessionCookie {
        SessionCookie {
            secure: https,
            name: session_cookie_name(app_name, https).into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn base(&self, value: String) -> Cookie<'static> {
        Cookie::build((self.name.to_string(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.secure)
            .build()
    }

    /// The cookie carrying `token` until `expires_at` (unix seconds), issued at `now`.
    pub fn issue(&self, cookies: &Cookies, token: &str, expires_at: i64, now: i64) {
        let mut cookie = self.base(token.to_owned());
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

#[cfg(test)]
mod tests {
    use super::session_cookie_name;

    #[test]
    fn the_session_cookie_is_named_after_the_app() {
        assert_eq!(session_cookie_name("Gatehouse", false), "gatehouse_session");
        assert_eq!(session_cookie_name("Gatehouse", true), "__Host-gatehouse_session");
        assert_eq!(session_cookie_name("Acme Books", false), "acme_books_session");
        assert_eq!(
            session_cookie_name("  Ünïcode & Co. 2 ", false),
            "n_code_co_2_session"
        );
        assert_eq!(session_cookie_name("Ворота", true), "__Host-gatehouse_session");
    }
}
