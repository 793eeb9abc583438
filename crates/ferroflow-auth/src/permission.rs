//! Permission levels and how the grants that apply to one resource combine into one decision.

use std::collections::HashMap;
use std::fmt;

/// A permission level, as MLflow names them. The order of the variants is the order of the levels:
/// `NoPermissions < Read < Use < Edit < Manage`. `Deny` is not a level but a veto (see [`resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Nothing at all.
    NoPermissions,
    /// See it.
    Read,
    /// Consume it without changing it (MLflow 3's `USE`).
    Use,
    /// Change it.
    Edit,
    /// Change it, delete it, and grant or revoke access to it.
    Manage,
    /// Nothing, whatever else is granted.
    Deny,
}

/// A permission name that is not one of MLflow's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid permission '{0}'. Valid permissions are: READ, USE, EDIT, MANAGE, NO_PERMISSIONS, DENY")]
pub struct UnknownPermission(pub String);

impl Permission {
    /// Every permission, lowest first.
    pub const ALL: [Self; 6] = [Self::NoPermissions, Self::Read, Self::Use, Self::Edit, Self::Manage, Self::Deny];

    /// MLflow's name of the level (`READ`, `NO_PERMISSIONS`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::NoPermissions => "NO_PERMISSIONS",
            Self::Read => "READ",
            Self::Use => "USE",
            Self::Edit => "EDIT",
            Self::Manage => "MANAGE",
            Self::Deny => "DENY",
        }
    }

    /// Parses MLflow's name of a level. Names are matched exactly, as MLflow does.
    ///
    /// # Errors
    /// [`UnknownPermission`] for anything else.
    pub fn parse(name: &str) -> Result<Self, UnknownPermission> {
        Self::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| UnknownPermission(name.to_owned()))
    }

    /// Whether holding `self` satisfies a check that needs `required`.
    #[must_use]
    pub fn satisfies(self, required: Self) -> bool {
        self != Self::Deny && required != Self::Deny && self >= required
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Combines the grants that apply to one resource for one user (the user's own and those of the
/// user's groups, on the resource itself and on the wildcard `*`):
/// - any `DENY` wins;
/// - otherwise the highest grant, even `NO_PERMISSIONS` (an explicit grant overrides the default);
/// - with no grant at all, `default`.
#[must_use]
pub fn resolve(grants: impl IntoIterator<Item = Permission>, default: Permission) -> Permission {
    let mut best: Option<Permission> = None;
    for grant in grants {
        if grant == Permission::Deny {
            return Permission::Deny;
        }
        best = Some(best.map_or(grant, |b| b.max(grant)));
    }
    best.unwrap_or(default)
}

/// Which resources of one type a user may read, in a form a search can put into its `WHERE` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    /// All of them.
    All,
    /// All but these ids.
    AllExcept(Vec<String>),
    /// Only these ids.
    Only(Vec<String>),
}

/// A user's grants on one resource type, merged from the user's own and the user's groups'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantSet {
    /// Grants per resource id (the wildcard `*` included), each the list of grants that name it.
    by_resource: HashMap<String, Vec<Permission>>,
}

/// The resource id that stands for every resource of a type.
pub const WILDCARD: &str = "*";

impl GrantSet {
    /// Records one grant.
    pub fn add(&mut self, resource_id: impl Into<String>, permission: Permission) {
        self.by_resource.entry(resource_id.into()).or_default().push(permission);
    }

    /// The effective permission on `resource_id`.
    #[must_use]
    pub fn permission(&self, resource_id: &str, default: Permission) -> Permission {
        let own = self.by_resource.get(resource_id).into_iter().flatten();
        let wildcard = self.by_resource.get(WILDCARD).into_iter().flatten();
        resolve(own.chain(wildcard).copied(), default)
    }

    /// The resources of this type the user may read. Resources without a grant of their own all get
    /// the same decision (from the wildcard grants, else `default`), so the answer is that decision and
    /// the list of resources that differ from it.
    #[must_use]
    pub fn readable(&self, default: Permission) -> Visible {
        let baseline = self.permission("\u{0}no such resource", default).satisfies(Permission::Read);
        let mut differ: Vec<String> = self
            .by_resource
            .keys()
            .filter(|id| id.as_str() != WILDCARD)
            .filter(|id| self.permission(id, default).satisfies(Permission::Read) != baseline)
            .cloned()
            .collect();
        differ.sort();
        match (baseline, differ.is_empty()) {
            (true, true) => Visible::All,
            (true, false) => Visible::AllExcept(differ),
            (false, _) => Visible::Only(differ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Ok(p));
        }
        let err = Permission::parse("read").unwrap_err();
        assert!(err.to_string().contains("Invalid permission 'read'"), "{err}");
        assert!(Permission::parse("ADMIN").is_err());
    }

    #[test]
    fn levels_are_ordered_and_deny_satisfies_nothing() {
        assert!(Manage.satisfies(Read) && Manage.satisfies(Edit) && Edit.satisfies(Use));
        assert!(!Read.satisfies(Edit) && !Edit.satisfies(Manage) && !NoPermissions.satisfies(Read));
        assert!(!Deny.satisfies(NoPermissions) && !Deny.satisfies(Read));
    }

    #[test]
    fn deny_beats_grants_explicit_grants_beat_the_default() {
        assert_eq!(resolve([Read, Manage], Read), Manage);
        assert_eq!(resolve([Manage, Deny, Edit], Read), Deny);
        assert_eq!(resolve([NoPermissions], Read), NoPermissions);
        assert_eq!(resolve([], Read), Read);
        assert_eq!(resolve([], NoPermissions), NoPermissions);
    }

    #[test]
    fn wildcard_grants_join_the_resource_s_own() {
        let mut set = GrantSet::default();
        set.add("1", Edit);
        set.add(WILDCARD, Read);
        set.add("2", Deny);
        assert_eq!(set.permission("1", NoPermissions), Edit);
        assert_eq!(set.permission("3", NoPermissions), Read);
        assert_eq!(set.permission("2", Manage), Deny);
    }

    #[test]
    fn readable_lists_exceptions_to_the_baseline() {
        let mut set = GrantSet::default();
        assert_eq!(set.readable(Read), Visible::All);
        assert_eq!(set.readable(NoPermissions), Visible::Only(vec![]));
        set.add("7", Edit);
        set.add("9", Deny);
        set.add("8", NoPermissions);
        assert_eq!(set.readable(Read), Visible::AllExcept(vec!["8".into(), "9".into()]));
        assert_eq!(set.readable(NoPermissions), Visible::Only(vec!["7".into()]));
        set.add(WILDCARD, Read);
        assert_eq!(set.readable(NoPermissions), Visible::AllExcept(vec!["9".into()]));
    }
}
