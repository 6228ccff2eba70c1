//! What the admin page shows, and the rules for changing roles (docs/accounts.md "Roles").

use super::Role;
use serde::{Deserialize, Serialize};

/// Users listed per page on the admin page.
pub const USERS_PAGE_SIZE: i64 = 25;
/// Audit events listed per page on the admin page.
pub const EVENTS_PAGE_SIZE: i64 = 25;

/// One row of the users table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub has_password: bool,
    pub has_github: bool,
    pub has_google: bool,
    /// When the username's lock-out ends (unix seconds), while it is locked.
    pub locked_until: Option<i64>,
    /// Sign-in attempts counted against the username since its last success.
    pub failed_attempts: i64,
    /// Two-factor sign-in is on.
    pub two_factor: bool,
    /// Roles the viewer may give this user (the current one included when any is offered).
    pub assignable: Vec<Role>,
    /// The account is disabled (no sign-in of any kind).
    pub disabled: Option<Disabled>,
    /// The viewer may disable or enable this user.
    pub can_disable: bool,
    /// The viewer may view the app as this user (a user below the viewer's role).
    pub can_view_as: bool,
}

/// A disabled account: until when (`None`: until enabled again), and why (admins only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disabled {
    pub until: Option<i64>,
    pub reason: Option<String>,
}

/// A page of users matching a search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersPage {
    pub users: Vec<UserSummary>,
    /// 1-based page number.
    pub page: i64,
    pub total: i64,
}

impl UsersPage {
    pub fn pages(&self) -> i64 {
        ((self.total + USERS_PAGE_SIZE - 1) / USERS_PAGE_SIZE).max(1)
    }
}

/// One audit event as the admin page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub username: Option<String>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
    /// How many times it happened in its window (refused requests are counted, not
    /// listed one by one); 1 for everything else.
    pub occurrences: i64,
}

/// A page of audit events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    pub page: i64,
    pub has_more: bool,
}

/// Who wants to change whose role, and the state that decides it.
#[derive(Clone, Copy, Debug)]
pub struct RoleChange {
    pub actor_id: i64,
    pub actor_role: Role,
    pub target_id: i64,
    pub target_role: Role,
    pub new_role: Role,
    /// Enabled owners other than the target, right now: the target is the last owner
    /// when it is an owner and there are none (a disabled owner does not count).
    pub other_owners: i64,
}

/// Why a role change is refused; the message is shown to the admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleRefusal {
    #[error("Only admins and owners can change roles.")]
    NotAdmin,
    #[error("You can't change your own role.")]
    OwnRole,
    #[error("Admins can only change the roles of users below admin.")]
    TargetTooHigh,
    #[error("Admins can only give the roles none and user.")]
    RoleTooHigh,
    #[error("The last owner can't be demoted. Make someone else an owner first.")]
    LastOwner,
}

impl RoleChange {
    /// Applies the rules: an admin may set `none`/`user` on users below admin; an owner
    /// may set anything on anyone; nobody changes their own role except an owner stepping
    /// down while another owner remains; the last owner is never demoted.
    pub fn check(&self) -> Result<(), RoleRefusal> {
        let own = self.actor_id == self.target_id;
        let demotes_an_owner = self.target_role == Role::Owner && self.new_role != Role::Owner;
        match self.actor_role {
            Role::None | Role::User => Err(RoleRefusal::NotAdmin),
            Role::Admin if own => Err(RoleRefusal::OwnRole),
            Role::Admin if self.target_role >= Role::Admin => Err(RoleRefusal::TargetTooHigh),
            Role::Admin if self.new_role >= Role::Admin => Err(RoleRefusal::RoleTooHigh),
            Role::Admin => Ok(()),
            Role::Owner if demotes_an_owner && self.other_owners == 0 => Err(RoleRefusal::LastOwner),
            Role::Owner if own && !demotes_an_owner => Err(RoleRefusal::OwnRole),
            Role::Owner => Ok(()),
        }
    }

    /// The roles the actor may give the target, in order; empty when none may be changed.
    pub fn assignable(
        actor_id: i64,
        actor_role: Role,
        target_id: i64,
        target_role: Role,
        other_owners: i64,
    ) -> Vec<Role> {
        let changes: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|&new_role| {
                new_role != target_role
                    && RoleChange {
                        actor_id,
                        actor_role,
                        target_id,
                        target_role,
                        new_role,
                        other_owners,
                    }
                    .check()
                    .is_ok()
            })
            .collect();
        if changes.is_empty() {
            return changes;
        }
        let mut roles: Vec<Role> = changes;
        roles.push(target_role);
        roles.sort();
        roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    fn check(
        actor: (i64, Role),
        target: (i64, Role),
        new_role: Role,
        other_owners: i64,
    ) -> Result<(), RoleRefusal> {
        RoleChange {
            actor_id: actor.0,
            actor_role: actor.1,
            target_id: target.0,
            target_role: target.1,
            new_role,
            other_owners,
        }
        .check()
    }

    #[test]
    fn admins_manage_none_and_user_below_admin() {
        assert_eq!(check((1, Admin), (2, User), None, 1), Ok(()));
        assert_eq!(check((1, Admin), (2, None), User, 1), Ok(()));
        assert_eq!(
            check((1, Admin), (2, User), Admin, 1),
            Err(RoleRefusal::RoleTooHigh)
        );
        assert_eq!(
            check((1, Admin), (2, User), Owner, 1),
            Err(RoleRefusal::RoleTooHigh)
        );
        assert_eq!(
            check((1, Admin), (2, Admin), User, 1),
            Err(RoleRefusal::TargetTooHigh)
        );
        assert_eq!(
            check((1, Admin), (2, Owner), User, 1),
            Err(RoleRefusal::TargetTooHigh)
        );
        assert_eq!(check((1, Admin), (1, Admin), User, 1), Err(RoleRefusal::OwnRole));
    }

    #[test]
    fn owners_manage_everyone_but_never_the_last_owner_away() {
        for target in [None, User, Admin] {
            for new_role in Role::ALL {
                assert_eq!(
                    check((1, Owner), (2, target), new_role, 1),
                    Ok(()),
                    "{target} → {new_role}"
                );
            }
        }
        assert_eq!(check((1, Owner), (2, Owner), Admin, 1), Ok(()));
        assert_eq!(
            check((1, Owner), (1, Owner), Admin, 0),
            Err(RoleRefusal::LastOwner)
        );
        assert_eq!(
            check((1, Owner), (1, Owner), User, 1),
            Ok(()),
            "stepping down with another owner"
        );
        assert_eq!(check((1, Owner), (1, Owner), Owner, 1), Err(RoleRefusal::OwnRole));
        // The operator (no owner account) cannot demote the only enabled owner either.
        assert_eq!(
            check((-1, Owner), (2, Owner), User, 0),
            Err(RoleRefusal::LastOwner)
        );
    }

    #[test]
    fn members_and_none_change_nothing() {
        assert_eq!(check((1, User), (2, None), User, 1), Err(RoleRefusal::NotAdmin));
        assert_eq!(check((1, None), (1, None), User, 1), Err(RoleRefusal::NotAdmin));
    }

    #[test]
    fn the_form_offers_only_what_the_actor_may_set() {
        assert_eq!(RoleChange::assignable(1, Admin, 2, User, 1), vec![None, User]);
        assert_eq!(RoleChange::assignable(1, Admin, 2, Admin, 1), vec![]);
        assert_eq!(RoleChange::assignable(1, Admin, 1, Admin, 1), vec![]);
        assert_eq!(RoleChange::assignable(1, Owner, 2, User, 1), Role::ALL.to_vec());
        assert_eq!(RoleChange::assignable(1, Owner, 1, Owner, 0), vec![]);
        assert_eq!(RoleChange::assignable(1, Owner, 1, Owner, 1), Role::ALL.to_vec());
    }
}
