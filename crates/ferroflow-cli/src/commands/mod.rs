//! One module per subcommand.

pub mod audit;
pub mod db;
pub mod server;
