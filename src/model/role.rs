use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Access level of a user. The order is the privilege order: `none < user < admin < owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Signed in, but may see only their own account pages.
    None,
    /// An ordinary member.
    User,
    /// May manage users below admin.
    Admin,
    /// May manage everyone, including other owners.
    Owner,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::None, Role::User, Role::Admin, Role::Owner];

    /// The name stored in the database and used in forms and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::User => "user",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

/// True when `actual` grants at least what `required` asks for.
pub fn role_at_least(required: Role, actual: Role) -> bool {
    actual >= required
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of `none`, `user`, `admin`, `owner`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of none, user, admin, owner")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.chars().take(32).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(Role::None < Role::User && Role::User < Role::Admin && Role::Admin < Role::Owner);
    }

    #[test]
    fn role_at_least_compares_required_with_actual() {
        let cases = [
            (Role::None, Role::None, true),
            (Role::User, Role::None, false),
            (Role::User, Role::User, true),
            (Role::User, Role::Owner, true),
            (Role::Admin, Role::User, false),
            (Role::Admin, Role::Admin, true),
            (Role::Owner, Role::Admin, false),
            (Role::Owner, Role::Owner, true),
        ];
        for (required, actual, expected) in cases {
            assert_eq!(
                role_at_least(required, actual),
                expected,
                "{required} vs {actual}"
            );
        }
    }

    #[test]
    fn role_names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }
}
