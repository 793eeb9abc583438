//! One module per subcommand.

pub mod audit;
pub mod db;
pub mod manage;
mod remote;
pub mod server;
