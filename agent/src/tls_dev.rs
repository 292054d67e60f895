//! `memberlist tls-dev --dir DIR --nodes a,b,c`: write development certificates for
//! `--transport quic` (see `agent/README.md`).
//!
//! Every node's certificate carries the cluster server name `memberlist.cluster` and the
//! node's name, valid for server and client authentication; its key is PKCS#8, mode 0600 on
//! Unix. One line per file goes to stdout; the directory is created if needed and existing
//! files are never overwritten (the command fails naming the first one). The certificates
//! come from `memberlist::quic::DevCa` (rcgen), whose private key is never written.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use memberlist::quic::DevCa;

/// Options of `memberlist tls-dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct TlsDevArgs {
    /// Directory to write the PEM files into (created if missing).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Node names, comma-separated (letters, digits, `.`, `_`, `-`).
    #[arg(
        long,
        value_name = "NAME,NAME,...",
        value_delimiter = ',',
        required = true
    )]
    nodes: Vec<String>,
}

/// Runs `memberlist tls-dev`.
pub(crate) fn run(args: TlsDevArgs) -> Result<(), String> {
    for name in &args.nodes {
        check_name(name)?;
    }
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let ca =
        DevCa::new("memberlist development").map_err(|e| format!("cannot generate the CA: {e}"))?;
    write_new(&args.dir.join("ca.pem"), &ca.cert_pem(), false)?;
    for name in &args.nodes {
        let node = ca
            .issue(name)
            .map_err(|e| format!("cannot issue a certificate for {name}: {e}"))?;
        write_new(&args.dir.join(format!("{name}.pem")), &node.cert_pem, false)?;
        write_new(&args.dir.join(format!("{name}.key")), &node.key_pem, true)?;
    }
    Ok(())
}

/// A node name must be non-empty and safe as a file name.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name != "ca"
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--nodes: {name:?} is not a usable node name (letters, digits, `.`, `_`, `-`; \
             not empty, not `ca`, not starting with `.`)"
        ))
    }
}

/// Writes `text` to a file that must not exist yet (private: readable by the owner only, on
/// Unix), then prints its path.
fn write_new(path: &Path, text: &str, private: bool) -> Result<(), String> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let shown = path.display();
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{shown} already exists; tls-dev never overwrites files")
        } else {
            format!("cannot create {shown}: {e}")
        }
    })?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    let _ = writeln!(std::io::stdout().lock(), "wrote {shown}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_file_safe() {
        for good in ["a", "node-1", "web_2.eu"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "ca", "../x", ".hidden", "a/b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
