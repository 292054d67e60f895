//! The `agent` subcommand (not written yet).

/// Options of `memberlist agent`.
#[derive(Debug, clap::Args)]
pub(crate) struct AgentArgs {}

/// Runs `memberlist agent`.
pub(crate) async fn run(_args: AgentArgs, _log_level: &str) -> Result<(), String> {
    Err("not implemented yet".into())
}
