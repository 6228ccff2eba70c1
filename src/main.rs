//! The Gatehouse server binary: parse the command line and the configuration, then run.

use clap::FromArgMatches;
use gatehouse::server::{cli, config, telemetry};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(err) = config::load_dotenv() {
        eprintln!("gatehouse: {err}");
        return ExitCode::from(2);
    }
    let parsed = config::command::<cli::Cli>()
        .try_get_matches()
        .and_then(|matches| cli::Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        // A variable's value was refused: one line naming it.
        Err(err) if err.get(clap::error::ContextKind::InvalidArg).is_some() && is_value_error(&err) => {
            eprintln!("gatehouse: {}", config::from_clap(err));
            return ExitCode::from(2);
        }
        // Help, version, an unknown command: clap's own answer and exit code.
        Err(err) => err.exit(),
    };
    let config = match cli.settings.clone().validate() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("gatehouse: {err}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, None | Some(cli::Command::Serve));
    let filter = if serving {
        telemetry::SERVER_FILTER
    } else {
        telemetry::COMMAND_FILTER
    };
    telemetry::init(filter, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("gatehouse: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_value_error(err: &clap::Error) -> bool {
    use clap::error::ErrorKind;
    matches!(err.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue)
}
