//! Domain rules of the MLflow tracking API that need no I/O: identifier and name validation, the
//! search-filter and order-by grammar, page tokens and generated run names.
//!
//! Everything here is pure so the store and the server can share it and unit tests can pin it down.

pub mod error;
pub mod model;
pub mod page_token;
pub mod run_name;
pub mod search;
pub mod tags;
pub mod validation;

pub use error::{Error, Result};
