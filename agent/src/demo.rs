//! The `demo` subcommand (not written yet).

/// Options of `memberlist demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {}

/// Runs `memberlist demo`.
pub(crate) async fn run(_args: DemoArgs, _log_level: &str) -> Result<(), String> {
    Err("not implemented yet".into())
}
