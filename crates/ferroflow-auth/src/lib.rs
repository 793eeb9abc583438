//! ferroflow's access-control engine: permission levels and their resolution, password hashing,
//! API tokens, browser sessions, login throttling, and the audit log's hash chain.
//!
//! It knows nothing of HTTP or SQL: the store keeps users, grants, tokens and events, and the server
//! decides which permission each route needs and asks this crate whether a caller has it.

pub mod audit;
pub mod password;
pub mod permission;
pub mod session;
pub mod throttle;
pub mod token;

pub use permission::{resolve, GrantSet, Permission, UnknownPermission, Visible, WILDCARD};
