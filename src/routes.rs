//! Who may open which page. One table, read by the server's guard layer (redirects
//! before any rendering) and by the app's `<Guarded>` wrapper (client-side navigation,
//! the 403 page).

use crate::domain::encode_query_value;
use crate::model::Role;

/// What a path requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Only signed-out visitors; signed-in users are sent to their profile.
    SignedOut,
    /// A signed-in user whose role is at least this.
    SignedIn(Role),
}

/// The access rule of a path (without its query string).
pub fn access_for(path: &str) -> Access {
    let path = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    match path {
        "/login" | "/signup" => Access::SignedOut,
        "/profile" => Access::SignedIn(Role::None),
        "/members" => Access::SignedIn(Role::User),
        "/admin" => Access::SignedIn(Role::Admin),
        p if p.starts_with("/settings/") || p == "/settings" => Access::SignedIn(Role::None),
        p if p.starts_with("/admin/") => Access::SignedIn(Role::Admin),
        _ => Access::Public,
    }
}

/// The sign-in page that returns to `path_and_query` afterwards.
pub fn login_url(path_and_query: &str) -> String {
    format!("/login?next={}", encode_query_value(path_and_query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_pages_need_the_roles_of_the_spec() {
        assert_eq!(access_for("/"), Access::Public);
        assert_eq!(access_for("/login"), Access::SignedOut);
        assert_eq!(access_for("/signup/"), Access::SignedOut);
        assert_eq!(access_for("/profile"), Access::SignedIn(Role::None));
        assert_eq!(access_for("/settings/account"), Access::SignedIn(Role::None));
        assert_eq!(access_for("/settings/sessions"), Access::SignedIn(Role::None));
        assert_eq!(access_for("/members"), Access::SignedIn(Role::User));
        assert_eq!(access_for("/admin"), Access::SignedIn(Role::Admin));
        assert_eq!(access_for("/admin/"), Access::SignedIn(Role::Admin));
        assert_eq!(access_for("/administrator"), Access::Public);
        assert_eq!(access_for("/nope"), Access::Public);
    }

    #[test]
    fn the_login_url_carries_the_target_encoded() {
        assert_eq!(login_url("/profile"), "/login?next=/profile");
        assert_eq!(
            login_url("/admin?page=2&q=a"),
            "/login?next=/admin%3Fpage%3D2%26q%3Da"
        );
    }
}
