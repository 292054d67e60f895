//! The agent's settings: command-line flags over an optional TOML file (`--config FILE`).
//!
//! The file's keys are those of [`memberlist::ConfigFile`] plus the agent's own
//! ([`AgentKeys`]); `agent/README.md` ("Config file") describes them and how flags override
//! the file. An unknown key is an error naming the key and the file. With QUIC the three PEM
//! files are loaded here, so a missing or invalid one is reported before anything starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memberlist::quic::TlsConfig;
use memberlist::runtime::Seed;
use memberlist::{Config, ConfigFile};
use serde::Deserialize;

use crate::agent::{AgentArgs, TlsArgs, TransportKind};
use crate::meta;

/// The agent's own keys in a config file (the rest are [`ConfigFile`]'s).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentKeys {
    bind: Option<String>,
    advertise: Option<String>,
    http: Option<String>,
    admin_http: Option<String>,
    meta: Option<BTreeMap<String, String>>,
    transport: Option<String>,
    log_level: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    tls_server_name: Option<String>,
    mtls: Option<bool>,
    otlp_endpoint: Option<String>,
    /// A humantime duration (`"15s"`), parsed in [`resolve`].
    otlp_interval: Option<String>,
}

/// The keys [`AgentKeys`] reads.
const AGENT_KEYS: [&str; 14] = [
    "bind",
    "advertise",
    "http",
    "admin_http",
    "meta",
    "transport",
    "log_level",
    "tls_cert",
    "tls_key",
    "tls_ca",
    "tls_server_name",
    "mtls",
    "otlp_endpoint",
    "otlp_interval",
];

/// The transport the agent runs, with what it needs.
#[derive(Debug)]
pub(crate) enum TransportSettings {
    /// UDP + TCP.
    Net,
    /// QUIC with this TLS identity; `mutual_tls` requires client certificates.
    Quic {
        /// The node's certificate chain and key, and the cluster CA.
        tls: Box<TlsConfig>,
        /// Whether accepted connections must present a certificate from the CA too.
        mutual_tls: bool,
    },
}

/// Everything the agent needs to start, after flags and file were merged and checked.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The memberlist configuration (preset, protocol knobs, keys, label, versions).
    pub(crate) config: Config,
    /// The UDP + TCP address to bind.
    pub(crate) bind: SocketAddr,
    /// The address to advertise, if not derived from `bind`.
    pub(crate) advertise: Option<SocketAddr>,
    /// Where to serve the HTTP API.
    pub(crate) http: Option<SocketAddr>,
    /// Where to serve the admin API (key rotation), if anywhere.
    pub(crate) admin_http: Option<SocketAddr>,
    /// The encoded node metadata (Serf tags).
    pub(crate) meta: Vec<u8>,
    /// The log level from the file, when the command line gave none.
    pub(crate) log_level: Option<String>,
    /// The transport and its TLS material.
    pub(crate) transport: TransportSettings,
    /// Where to push metrics over OTLP/HTTP, and how often.
    pub(crate) otlp: Option<(String, std::time::Duration)>,
}

/// How long the agent still runs after its leave message went out, unless the config file
/// sets `leave_propagate_delay` (serf's `LeavePropagateDelay`).
pub(crate) const LEAVE_PROPAGATE_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the file (if any), applies the flags over it, and validates the result.
pub(crate) fn resolve(args: AgentArgs, cli_log_level: Option<&str>) -> Result<Settings, String> {
    let (mut file, mut agent) = match &args.config {
        Some(path) => read_file(path)?,
        None => (ConfigFile::default(), AgentKeys::default()),
    };

    let transport = match (args.transport, agent.transport.as_deref()) {
        (Some(t), _) => t,
        (None, None | Some("net")) => TransportKind::Net,
        (None, Some("quic")) => TransportKind::Quic,
        (None, Some(other)) => {
            return Err(format!(
                "config file: unknown transport {other:?}; expected \"net\" or \"quic\""
            ));
        }
    };

    if let Some(name) = args.name {
        file.name = name;
    }
    if file.name.is_empty() {
        return Err("a node name is required: --name NAME (or `name` in the config file)".into());
    }
    if let Some(preset) = args.preset {
        file.preset = Some(preset.into());
    }
    let tls_given = args.tls.given() || agent.tls_given();
    if !args.key.is_empty() {
        check_keys(&args.key)?;
        file.keys = Some(args.key);
    }
    if let Some(label) = args.label {
        file.label = Some(label);
    }
    if let Some(v) = args.delegate_version {
        file.delegate_versions = Some(v.0);
    }

    let bind = pick_addr("bind", args.bind, agent.bind.as_deref())?
        .ok_or("a bind address is required: --bind IP:PORT (or `bind` in the config file)")?;
    let advertise = pick_addr("advertise", args.advertise, agent.advertise.as_deref())?;
    let http = pick_addr("http", args.http, agent.http.as_deref())?;
    let admin_http = pick_addr("admin_http", args.admin_http, agent.admin_http.as_deref())?;
    if !args.join.is_empty() {
        let seeds = args
            .join
            .iter()
            .map(|s| s.parse::<Seed>().map_err(|e| format!("--join {s:?}: {e}")));
        file.seeds = Some(seeds.collect::<Result<_, _>>()?);
    }

    let mut tags = agent.meta.take().unwrap_or_default();
    for pair in &args.meta {
        let (k, v) = meta::parse_pair(pair)?;
        tags.insert(k, v);
    }
    let meta = meta::encode_tags(&tags).map_err(|e| format!("--meta: {e}"))?;

    let transport = match transport {
        TransportKind::Net if tls_given => {
            return Err(
                "the TLS options (--tls-cert, --tls-key, --tls-ca, --tls-server-name, \
                        --no-mtls) apply to --transport quic only"
                    .into(),
            );
        }
        TransportKind::Net => TransportSettings::Net,
        TransportKind::Quic => {
            if file.keys.as_ref().is_some_and(|k| !k.is_empty()) {
                return Err(
                    "--key (memberlist encryption) cannot be used with --transport \
                            quic: TLS already encrypts and authenticates all QUIC traffic"
                        .into(),
                );
            }
            quic_settings(args.tls, &agent)?
        }
    };

    // As serf's LeavePropagateDelay: after a leave the agent keeps answering probes for a
    // moment, so the leave spreads on before the process exits.
    file.leave_propagate_delay
        .get_or_insert(LEAVE_PROPAGATE_DELAY);
    let config = file
        .into_config()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    let file_interval = agent.otlp_interval.as_deref().map(|text| {
        humantime::parse_duration(text)
            .map_err(|e| format!("config file: `otlp_interval` = {text:?}: {e}"))
    });
    let otlp_interval = args
        .otlp_interval
        .or(file_interval.transpose()?)
        .unwrap_or(memberlist_opentelemetry::DEFAULT_INTERVAL);
    let otlp = args
        .otlp_endpoint
        .or(agent.otlp_endpoint.take())
        .map(|endpoint| (endpoint, otlp_interval));
    Ok(Settings {
        config,
        bind,
        advertise,
        http,
        admin_http,
        meta,
        otlp,
        log_level: cli_log_level.map(str::to_owned).or(agent.log_level),
        transport,
    })
}

impl AgentKeys {
    /// True when the file sets any TLS key.
    fn tls_given(&self) -> bool {
        self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.tls_ca.is_some()
            || self.tls_server_name.is_some()
            || self.mtls.is_some()
    }
}

/// The QUIC transport's settings: flags over the file, the three PEM files required and
/// loaded.
fn quic_settings(flags: TlsArgs, file: &AgentKeys) -> Result<TransportSettings, String> {
    let cert = flags.tls_cert.or_else(|| file.tls_cert.clone());
    let key = flags.tls_key.or_else(|| file.tls_key.clone());
    let ca = flags.tls_ca.or_else(|| file.tls_ca.clone());
    let (Some(cert), Some(key), Some(ca)) = (&cert, &key, &ca) else {
        let missing: Vec<&str> = [
            (cert.is_none(), "--tls-cert"),
            (key.is_none(), "--tls-key"),
            (ca.is_none(), "--tls-ca"),
        ]
        .into_iter()
        .filter_map(|(absent, flag)| absent.then_some(flag))
        .collect();
        return Err(format!(
            "--transport quic needs TLS files: missing {} (`memberlist tls-dev` makes \
             development ones)",
            missing.join(", ")
        ));
    };
    let mut tls = TlsConfig::from_pem_files(cert, key, ca)
        .map_err(|e| format!("cannot load the TLS files: {e}"))?;
    if let Some(name) = flags
        .tls_server_name
        .or_else(|| file.tls_server_name.clone())
    {
        tls = tls.with_server_name(name);
    }
    let mutual_tls = !flags.no_mtls && file.mtls.unwrap_or(true);
    Ok(TransportSettings::Quic {
        tls: Box::new(tls),
        mutual_tls,
    })
}

/// The memberlist part of a config file (the agent's own keys are checked and left out), for
/// `memberlist config explain --config FILE`.
pub(crate) fn read_config_file(path: &Path) -> Result<ConfigFile, String> {
    read_file(path).map(|(file, _)| file)
}

/// Reads a TOML config file, rejecting unknown keys by name.
fn read_file(path: &Path) -> Result<(ConfigFile, AgentKeys), String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {shown}: {e}"))?;
    let invalid = |e: toml::de::Error| format!("config file {shown}: {}", one_line(&e.to_string()));
    let mut table: toml::Table = toml::from_str(&text).map_err(invalid)?;
    let known = config_file_keys();
    if let Some(unknown) = table
        .keys()
        .find(|k| !known.contains(k) && !AGENT_KEYS.contains(&k.as_str()))
    {
        let hint = if unknown == "join" {
            " (the nodes to join through are `seeds`)"
        } else {
            ""
        };
        return Err(format!(
            "config file {shown}: unknown key `{unknown}`{hint}"
        ));
    }
    let mut own = toml::Table::new();
    for key in AGENT_KEYS {
        if let Some(v) = table.remove(key) {
            own.insert(key.to_owned(), v);
        }
    }
    let agent: AgentKeys = own.try_into().map_err(invalid)?;
    let file: ConfigFile = table.try_into().map_err(invalid)?;
    Ok((file, agent))
}

/// A TOML error on one line: its message lines joined, the source snippet left out.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('|') && !l.contains(" | ") && !l.ends_with(" |")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every key a [`ConfigFile`] reads: those written out for a full configuration, and
/// `preset` (never written out).
fn config_file_keys() -> Vec<String> {
    let mut keys: Vec<String> = toml::Table::try_from(ConfigFile::from(&Config::lan("x")))
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    keys.push("preset".into());
    // `keys` is written only when a keyring is set.
    keys.push("keys".into());
    keys
}

/// The flag's address, else the file's (parsed), else none.
fn pick_addr(
    what: &str,
    flag: Option<SocketAddr>,
    file: Option<&str>,
) -> Result<Option<SocketAddr>, String> {
    if flag.is_some() {
        return Ok(flag);
    }
    file.map(|text| {
        text.trim().parse().map_err(|e| {
            format!("config file: `{what}` = {text:?} is not an IP:PORT address ({e})")
        })
    })
    .transpose()
}

/// Checks `--key` values: standard base64 of 16, 24 or 32 bytes.
fn check_keys(keys: &[String]) -> Result<(), String> {
    for (i, key) in keys.iter().enumerate() {
        let n = i + 1;
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|e| format!("--key #{n} is not valid base64: {e}"))?;
        if ![16, 24, 32].contains(&bytes.len()) {
            return Err(format!(
                "--key #{n} is {} bytes; AES keys are 16, 24 or 32 bytes (base64 of them)",
                bytes.len()
            ));
        }
    }
    Ok(())
}

/// `--delegate-version MIN,MAX,CUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DelegateVersions(pub(crate) [u8; 3]);

impl std::str::FromStr for DelegateVersions {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || format!("expected MIN,MAX,CUR (three numbers 0-255), got {s:?}");
        let [min, max, cur] = parts.as_slice() else {
            return Err(bad());
        };
        let num = |t: &str| t.parse::<u8>().map_err(|_| bad());
        let (min, max, cur) = (num(min)?, num(max)?, num(cur)?);
        if !(min <= cur && cur <= max) {
            return Err(format!("need MIN <= CUR <= MAX, got {s:?}"));
        }
        Ok(Self([min, max, cur]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn delegate_versions_parse() {
        assert_eq!(
            "2,5,5".parse::<DelegateVersions>().unwrap(),
            DelegateVersions([2, 5, 5])
        );
        assert!("2,5".parse::<DelegateVersions>().is_err());
        assert!("5,2,3".parse::<DelegateVersions>().is_err());
        assert!("1,2,300".parse::<DelegateVersions>().is_err());
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_keys(&["cg8StVXbQJ0gPvMd9o7yrg==".into()]).is_ok());
        let err = check_keys(&["cg8StVXbQJ0gPvMd9o7yrg==".into(), "AAAA".into()]).unwrap_err();
        assert!(err.contains("--key #2 is 3 bytes"), "{err}");
        assert!(check_keys(&["***".into()]).unwrap_err().contains("base64"));
    }

    #[test]
    fn toml_errors_fit_on_one_line() {
        let err = toml::from_str::<toml::Table>("name = \n").unwrap_err();
        let line = one_line(&err.to_string());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("TOML parse error at line 1"), "{line}");
        assert!(line.contains("quoted"), "{line}");
    }

    #[test]
    fn config_file_keys_cover_the_fields() {
        let keys = config_file_keys();
        for k in [
            "name",
            "probe_interval",
            "keys",
            "preset",
            "delegate_versions",
            "label",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
    }
}
