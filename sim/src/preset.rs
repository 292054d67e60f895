//! Which protocol settings a scenario's nodes run: Go's presets by name, or any
//! [`ProtocolConfig`] given through [`Options::protocol`].

use memberlist_core::machine::ProtocolConfig;

use crate::scenarios::Options;

/// Go's timing presets (the command line's `--preset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// `DefaultLANConfig` (the default).
    Lan,
    /// `DefaultWANConfig`.
    Wan,
    /// `DefaultLocalConfig`.
    Local,
}

impl Preset {
    /// The preset's protocol settings, named `name`.
    pub fn config(self, name: &str) -> ProtocolConfig {
        match self {
            Self::Lan => ProtocolConfig::lan(name),
            Self::Wan => ProtocolConfig::wan(name),
            Self::Local => ProtocolConfig::local(name),
        }
    }
}

impl Options {
    /// The protocol settings the options ask for: [`protocol`](Options::protocol) if set,
    /// else the [`preset`](Options::preset)'s; `None` means the LAN preset (the default).
    pub fn protocol_config(&self) -> Option<ProtocolConfig> {
        match (&self.protocol, self.preset) {
            (Some(cfg), _) => Some(cfg.clone()),
            (None, Some(preset)) => Some(preset.config("template")),
            (None, None) => None,
        }
    }

    /// Whether the scenarios' built-in model figures (the LAN preset's) apply: no protocol
    /// settings were given, or the LAN preset by name.
    pub fn lan_model(&self) -> bool {
        self.protocol.is_none() && matches!(self.preset, None | Some(Preset::Lan))
    }
}
