use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    tokdash::started();
    let cli = tokdash::cli::Cli::parse();
    match tokdash::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("tokdash: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}
