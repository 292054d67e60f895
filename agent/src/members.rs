//! The `members` subcommand (not written yet).

/// Options of `memberlist members`.
#[derive(Debug, clap::Args)]
pub(crate) struct MembersArgs {}

/// Runs `memberlist members`.
pub(crate) async fn run(_args: MembersArgs) -> Result<(), String> {
    Err("not implemented yet".into())
}
