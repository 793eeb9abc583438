//! One module per subcommand.

pub mod server;
