//! The authenticated caller of a request, as handlers see it.

use std::collections::HashMap;
use std::sync::Arc;

use ferroflow_auth::{GrantSet, Permission, Visible};
use ferroflow_store::{ResourceType, User};

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// Username and password (HTTP Basic).
    Password,
    /// An API token (Bearer, or as the Basic password), with its id.
    Token(String),
    /// A web UI session's cookie, with the id of the token behind it.
    Session(String),
}

impl AuthMethod {
    /// The name recorded in audit events.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Password => "basic",
            Self::Token(_) => "token",
            Self::Session(_) => "session",
        }
    }
}

/// What a user holds, merged from their own grants and their groups', for one auth epoch.
#[derive(Debug, Default)]
pub struct Holdings {
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Grants per resource type.
    pub grants: HashMap<ResourceType, GrantSet>,
}

/// The caller of a request with auth on (a request extension).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// How they logged in.
    pub method: AuthMethod,
    /// Their grants.
    pub holdings: Arc<Holdings>,
    /// What applies where no grant does.
    pub default: Permission,
}

impl Caller {
    /// The caller's permission on one resource (admins: MANAGE everywhere).
    pub fn permission(&self, resource_type: ResourceType, id: &str) -> Permission {
        if self.user.is_admin {
            return Permission::Manage;
        }
        match self.holdings.grants.get(&resource_type) {
            Some(set) => set.permission(id, self.default),
            None => self.default,
        }
    }

    /// The resources of a type the caller may read.
    pub fn visible(&self, resource_type: ResourceType) -> Visible {
        if self.user.is_admin {
            return Visible::All;
        }
        match self.holdings.grants.get(&resource_type) {
            Some(set) => set.readable(self.default),
            None if self.default.satisfies(Permission::Read) => Visible::All,
            None => Visible::Only(Vec::new()),
        }
    }

    /// Whether the caller may read the audit log: admins and members of the `auditor` group.
    pub fn is_auditor(&self) -> bool {
        self.user.is_admin || self.holdings.groups.iter().any(|g| g == "auditor")
    }
}

/// What a handler may show of a resource type: everything with auth off.
pub fn visible(caller: Option<&Caller>, resource_type: ResourceType) -> Visible {
    caller.map_or(Visible::All, |c| c.visible(resource_type))
}

/// Whether a caller may read one experiment (always with auth off).
pub fn may_read_experiment(caller: Option<&Caller>, experiment_id: &str) -> bool {
    caller.is_none_or(|c| c.permission(ResourceType::Experiment, experiment_id).satisfies(Permission::Read))
}
