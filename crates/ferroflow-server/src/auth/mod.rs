//! Access control in the HTTP layer: the declarations every route makes ([`access`]), the caller
//! handlers see ([`caller`]), and the middleware that enforces both and writes the audit log
//! ([`gate`]).

pub mod access;
pub mod caller;
mod epoch;
pub mod gate;
pub mod proxies;

pub use access::{Access, Declared, Endpoint, Target};
pub use caller::{AuthMethod, Caller};
pub use gate::{AuthConfig, Gate};
pub use proxies::TrustedProxies;
