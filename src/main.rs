//! The Gatehouse server binary: parse the command line and the configuration, then run.

use clap::Parser;
use gatehouse::server::{cli, config::Config, telemetry};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("gatehouse: {err}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, None | Some(cli::Command::Serve));
    telemetry::init(if serving {
        telemetry::SERVER_FILTER
    } else {
        telemetry::COMMAND_FILTER
    });
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
