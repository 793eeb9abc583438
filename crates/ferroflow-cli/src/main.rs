//! The `ferroflow` binary.

mod args;
mod commands;
mod env_vars;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use args::{Cli, Command, DbCommand};

/// A page of runs allocates a few strings per row it decodes and per field it serializes; mimalloc
/// serves those faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    env_vars::apply_mlflow_aliases();
    let cli = Cli::parse();
    // An import's and its verification's reads are long by design: sqlx's slow-statement warnings
    // would only hide the progress bars.
    let default_filter = match cli.command {
        Command::Db(DbCommand::Import { .. }) => "info,sqlx::query=error",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)))
        .init();
    match cli.command {
        Command::Server(args) => {
            let mut runtime = tokio::runtime::Builder::new_multi_thread();
            runtime.enable_all();
            if let Some(workers) = args.workers {
                runtime.worker_threads(workers.max(1));
            }
            runtime.build()?.block_on(commands::server::run(args))
        }
        Command::Db(DbCommand::Upgrade { url, pool }) => client_runtime()?.block_on(commands::db::upgrade(&url, &pool)),
        Command::Db(DbCommand::Import { from, to, resume, verify, pool }) => {
            let options = ferroflow_import::ImportOptions { from, to, resume, pool: pool.settings() };
            let same = client_runtime()?.block_on(commands::db::import(&options, verify))?;
            if !same {
                #[allow(clippy::exit)] // the verdict is the exit status
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Users(managed) => client_runtime()?.block_on(commands::manage::users(managed)),
        Command::Groups(managed) => client_runtime()?.block_on(commands::manage::groups(managed)),
        Command::Tokens(managed) => client_runtime()?.block_on(commands::manage::tokens(managed)),
        Command::Grants(managed) => client_runtime()?.block_on(commands::manage::grants(managed)),
        Command::Audit(command) => {
            let intact = client_runtime()?.block_on(commands::audit::run(command))?;
            if !intact {
                #[allow(clippy::exit)] // the verdict is the exit status
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// The runtime of the commands other than `server`: one thread is plenty.
fn client_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}
