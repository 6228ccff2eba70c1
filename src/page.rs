//! The page table: every page of the app, declared once.
//!
//! Each [`Page`] says its path, who may open it, whether its HTML may be reused from the
//! page cache, and its entry in the navigation bar. The router (`app.rs`, checked by a
//! test), the server's access layer, the page cache, the `<Authorized>` wrapper and the
//! navigation bar all read this table; adding a page is one entry here plus its view.
//!
//! Access fails closed: a path under the first segment of any guarded page (`/admin/…`,
//! `/settings/…`, `/profile/…`) that the table does not list is answered with the 404
//! page by the server, whatever handler the router may have for it.

use crate::domain::encode_query_value;
use crate::model::Role;

/// What a page requires of its visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Only signed-out visitors; signed-in users are sent to their profile.
    SignedOut,
    /// A signed-in user whose role is at least this.
    SignedIn(Role),
}

/// How a page appears in the navigation bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NavEntry {
    pub label: &'static str,
    /// Drawn as a button rather than a link.
    pub prominent: bool,
}

/// Every page of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Page {
    Home,
    Login,
    Signup,
    Profile,
    Members,
    Admin,
    AccountSettings,
    SessionSettings,
    SecuritySettings,
    Reauth,
    TwoFactor,
    ForgotPassword,
    ResetPassword,
    VerifyEmail,
}

/// Where a request for a path stands, before any handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathAccess {
    /// A page of the table, with its rule.
    Page(Page),
    /// Not a page, and outside every guarded area: the router decides (assets, API,
    /// OAuth routes, the 404 page).
    Open,
    /// Under a guarded area but not in the table: refused, never public.
    Unlisted,
}

impl Page {
    /// Every page, in navigation order.
    pub const ALL: [Page; 14] = [
        Page::Home,
        Page::Login,
        Page::Signup,
        Page::Profile,
        Page::Members,
        Page::Admin,
        Page::AccountSettings,
        Page::SessionSettings,
        Page::SecuritySettings,
        Page::Reauth,
        Page::TwoFactor,
        Page::ForgotPassword,
        Page::ResetPassword,
        Page::VerifyEmail,
    ];

    /// The page's path (what the router matches, without a trailing slash).
    pub fn path(self) -> &'static str {
        match self {
            Page::Home => "/",
            Page::Login => "/login",
            Page::Signup => "/signup",
            Page::Profile => "/profile",
            Page::Members => "/members",
            Page::Admin => "/admin",
            Page::AccountSettings => "/settings/account",
            Page::SessionSettings => "/settings/sessions",
            Page::SecuritySettings => "/settings/security",
            Page::Reauth => "/reauth",
            Page::TwoFactor => "/login/two-factor",
            Page::ForgotPassword => "/forgot-password",
            Page::ResetPassword => "/reset-password",
            Page::VerifyEmail => "/verify-email",
        }
    }

    /// Who may open the page.
    pub fn access(self) -> Access {
        match self {
            // A link from an e-mail works whoever is signed in here: the link is the proof.
            Page::Home | Page::ResetPassword | Page::VerifyEmail => Access::Public,
            Page::Login | Page::Signup | Page::TwoFactor | Page::ForgotPassword => Access::SignedOut,
            Page::Profile
            | Page::AccountSettings
            | Page::SessionSettings
            | Page::SecuritySettings
            | Page::Reauth => Access::SignedIn(Role::None),
            Page::Members => Access::SignedIn(Role::User),
            Page::Admin => Access::SignedIn(Role::Admin),
        }
    }

    /// True when the page's HTML depends on nothing but its path, the signed-in user and
    /// the configuration, so a rendered copy may answer the same user again. A page
    /// that reads anything else (other rows, the query string, a header, the clock)
    /// must say `false`; debug builds check it on every reuse.
    pub fn cacheable(self) -> bool {
        matches!(
            self,
            Page::Home | Page::Login | Page::Signup | Page::Profile | Page::Members
        )
    }

    /// The page's link in the navigation bar, if it has one. Signed-in visitors see
    /// the entries of the pages their role opens; signed-out visitors those of the
    /// signed-out pages.
    pub fn nav(self) -> Option<NavEntry> {
        let link = |label| {
            Some(NavEntry {
                label,
                prominent: false,
            })
        };
        match self {
            Page::Login => link("Sign in"),
            Page::Signup => Some(NavEntry {
                label: "Sign up",
                prominent: true,
            }),
            Page::Profile => link("Profile"),
            Page::Members => link("Members"),
            Page::Admin => link("Admin"),
            Page::AccountSettings => link("Settings"),
            Page::Home
            | Page::SessionSettings
            | Page::SecuritySettings
            | Page::Reauth
            | Page::TwoFactor
            | Page::ForgotPassword
            | Page::ResetPassword
            | Page::VerifyEmail => None,
        }
    }

    /// The page at `path` (query string excluded; a trailing slash is ignored).
    pub fn at(path: &str) -> Option<Page> {
        let path = normalise(path);
        Page::ALL.into_iter().find(|page| page.path() == path)
    }

    /// True when a visitor with `role` (`None`: signed out) may open the page.
    pub fn admits(self, role: Option<Role>) -> bool {
        match (self.access(), role) {
            (Access::Public, _) => true,
            (Access::SignedOut, role) => role.is_none(),
            (Access::SignedIn(required), Some(role)) => role >= required,
            (Access::SignedIn(_), None) => false,
        }
    }
}

fn normalise(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// The first path segment of a guarded page (`/admin` for `/admin`, `/settings` for
/// `/settings/account`): everything below it is guarded too.
fn area(page: Page) -> Option<&'static str> {
    if !matches!(page.access(), Access::SignedIn(_)) {
        return None;
    }
    let path = page.path();
    let end = path[1..].find('/').map_or(path.len(), |i| i + 1);
    Some(&path[..end])
}

/// The page a bare area path leads to: `/settings` is no page, but the first of its pages
/// in the table, `/settings/account`, is where a visitor typing it wants to be. `None`
/// for a page and for anything that is not an area.
pub fn area_entry(path: &str) -> Option<&'static str> {
    if Page::at(path).is_some() {
        return None;
    }
    let path = normalise(path);
    Page::ALL
        .into_iter()
        .find(|page| area(*page) == Some(path))
        .map(Page::path)
}

/// Where a path stands: a listed page, open ground, or an unlisted path in a guarded area.
pub fn classify(path: &str) -> PathAccess {
    if let Some(page) = Page::at(path) {
        return PathAccess::Page(page);
    }
    let path = normalise(path);
    let guarded = Page::ALL
        .into_iter()
        .filter_map(area)
        .any(|area| path == area || path.strip_prefix(area).is_some_and(|rest| rest.starts_with('/')));
    if guarded {
        PathAccess::Unlisted
    } else {
        PathAccess::Open
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
    fn a_bare_area_leads_to_its_first_page() {
        assert_eq!(area_entry("/settings"), Some("/settings/account"));
        assert_eq!(area_entry("/settings/"), Some("/settings/account"));
        assert_eq!(area_entry("/settings/account"), None);
        assert_eq!(area_entry("/admin"), None);
        assert_eq!(area_entry("/settings/nothing"), None);
        assert_eq!(area_entry("/"), None);
        assert_eq!(area_entry("/nowhere"), None);
    }

    #[test]
    fn pages_need_the_roles_the_readme_gives() {
        assert_eq!(Page::at("/"), Some(Page::Home));
        assert_eq!(Page::Login.access(), Access::SignedOut);
        assert_eq!(Page::at("/signup/"), Some(Page::Signup));
        assert_eq!(Page::Profile.access(), Access::SignedIn(Role::None));
        assert_eq!(Page::AccountSettings.access(), Access::SignedIn(Role::None));
        assert_eq!(Page::SessionSettings.access(), Access::SignedIn(Role::None));
        assert_eq!(Page::Members.access(), Access::SignedIn(Role::User));
        assert_eq!(Page::Admin.access(), Access::SignedIn(Role::Admin));
        assert_eq!(Page::at("/admin/"), Some(Page::Admin));
    }

    #[test]
    fn paths_are_unique_and_found_again() {
        for page in Page::ALL {
            assert_eq!(Page::at(page.path()), Some(page), "{page:?}");
            assert_eq!(classify(page.path()), PathAccess::Page(page));
        }
    }

    #[test]
    fn unlisted_paths_under_a_guarded_area_are_refused_and_others_are_open() {
        for path in [
            "/admin/reports",
            "/admin/users/7",
            "/settings",
            "/settings/",
            "/settings/billing",
            "/profile/edit",
            "/members/x",
        ] {
            assert_eq!(classify(path), PathAccess::Unlisted, "{path}");
        }
        for path in [
            "/administrator",
            "/settingsx",
            "/nope",
            "/api/login",
            "/auth/github",
            "/pkg/gatehouse.js",
            "/healthz",
            "/login/two",
            "/login/two-factor/x",
        ] {
            assert_eq!(classify(path), PathAccess::Open, "{path}");
        }
    }

    #[test]
    fn admission_follows_the_role_order() {
        assert!(Page::Home.admits(None) && Page::Home.admits(Some(Role::Owner)));
        assert!(Page::Login.admits(None) && !Page::Login.admits(Some(Role::None)));
        assert!(!Page::Profile.admits(None) && Page::Profile.admits(Some(Role::None)));
        assert!(!Page::Members.admits(Some(Role::None)) && Page::Members.admits(Some(Role::User)));
        assert!(!Page::Admin.admits(Some(Role::User)) && Page::Admin.admits(Some(Role::Owner)));
    }

    #[test]
    fn only_pages_that_read_nothing_but_the_user_are_cacheable() {
        let cacheable: Vec<_> = Page::ALL.into_iter().filter(|p| p.cacheable()).collect();
        assert_eq!(
            cacheable,
            [
                Page::Home,
                Page::Login,
                Page::Signup,
                Page::Profile,
                Page::Members
            ]
        );
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
