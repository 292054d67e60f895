//! Seeds — the addresses or names a node joins (and rejoins) through — and the retry policy
//! of [`Memberlist::join_seeds`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use smol_str::SmolStr;

use crate::delegate::Delegate;
use crate::transport::Transport;

use super::address::{self, AddressError};
use super::error::JoinError;
use super::handle::Memberlist;

/// A node to join through, in Go's forms: `host:port`, `host` (port 7946), `[v6]:port`, a
/// bare IPv6 address, each optionally prefixed with a node name (`node-b/10.0.0.2:7946`; the
/// name is accepted for compatibility and otherwise ignored). The host is an IP or a DNS
/// name, resolved each time it is joined through, and every address a name resolves to is
/// tried.
///
/// Seeds are written as text in config files and parsed with [`str::parse`]:
///
/// ```
/// use memberlist::runtime::Seed;
///
/// let seed: Seed = "node-b/[fd00::2]".parse()?;
/// assert_eq!(seed.to_string(), "node-b/[fd00::2]:7946");
/// assert_eq!(seed.socket_addr(), Some("[fd00::2]:7946".parse()?));
/// let name: Seed = "seeds.example.com:8301".parse()?;
/// assert_eq!(name.socket_addr(), None); // resolved when joined through
/// assert!("10.0.0.1:http".parse::<Seed>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Seed {
    name: Option<SmolStr>,
    host: Host,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Host {
    Ip(IpAddr),
    Name(SmolStr),
}

impl Seed {
    /// The node name given before `/`, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The port (7946 when the text gave none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address, when the host is an IP; `None` for a DNS name.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ip(ip) => Some(SocketAddr::new(ip, self.port)),
            Host::Name(_) => None,
        }
    }

    /// Every address the seed names: its own for an IP, what the system resolver returns
    /// for a DNS name.
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>, AddressError> {
        match &self.host {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(host) => address::lookup(host, self.port).await,
        }
    }
}

impl FromStr for Seed {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, AddressError> {
        let (name, host, port) = address::parse(text)?;
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(host.into()),
        };
        let name = name.map(SmolStr::from);
        Ok(Self { name, host, port })
    }
}

impl From<SocketAddr> for Seed {
    fn from(addr: SocketAddr) -> Self {
        Self {
            name: None,
            host: Host::Ip(addr.ip()),
            port: addr.port(),
        }
    }
}

impl fmt::Display for Seed {
    /// The canonical text: `[name/]host:port`, IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name}/")?;
        }
        match &self.host {
            Host::Ip(ip) => write!(f, "{}", SocketAddr::new(*ip, self.port)),
            Host::Name(host) => write!(f, "{host}:{}", self.port),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Seed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Seed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format_args!("seed {text:?}: {e}")))
    }
}

/// How [`Memberlist::join_seeds`] keeps trying: after a failed attempt it waits
/// `first_wait`, doubling the wait up to `max_wait`, until an attempt contacts a node or
/// `deadline` (from the first attempt) passes. Defaults: 1 s, 30 s, no deadline.
///
/// ```
/// use std::time::Duration;
/// use memberlist::runtime::JoinRetry;
///
/// let retry = JoinRetry::default().with_deadline(Duration::from_secs(60));
/// assert_eq!(retry.wait_after(1), Duration::from_secs(1));
/// assert_eq!(retry.wait_after(3), Duration::from_secs(4));
/// assert_eq!(retry.wait_after(10), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinRetry {
    /// The wait after the first failed attempt.
    pub first_wait: Duration,
    /// The longest wait between attempts.
    pub max_wait: Duration,
    /// When to give up, counted from the first attempt; `None` keeps trying until the node
    /// stops.
    pub deadline: Option<Duration>,
}

impl Default for JoinRetry {
    fn default() -> Self {
        Self {
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            deadline: None,
        }
    }
}

impl JoinRetry {
    /// The same policy, giving up `deadline` after the first attempt.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The wait after failed attempt number `attempt` (from 1).
    pub fn wait_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first_wait
            .saturating_mul(1 << doublings)
            .min(self.max_wait.max(self.first_wait))
    }
}

impl<T: Transport, D: Delegate + 'static> Memberlist<T, D> {
    /// Joins through the configured [`seeds`](super::Config::seeds), trying again after
    /// each failed attempt as [`join_retry`](super::Config::join_retry) says, and returns
    /// how many exchanges the successful attempt made. Fails with
    /// [`JoinError::NoAddresses`] without seeds, [`JoinError::GaveUp`] (listing the last
    /// attempt's failures) once the deadline passes, and [`JoinError::Shutdown`] when the
    /// node stops. Names are resolved again at every attempt, and the seeds' addresses are
    /// also what the node tries to reconnect to when it has lost every member.
    ///
    /// Run it in the background to start serving before the cluster is reachable:
    ///
    /// ```no_run
    /// # use memberlist::runtime::Memberlist;
    /// # use memberlist_core::transport::Transport;
    /// # fn f<T: Transport>(ml: Memberlist<T>) {
    /// let joiner = ml.clone();
    /// tokio::spawn(async move {
    ///     match joiner.join_seeds().await {
    ///         Ok(n) => tracing::info!(contacted = n, "joined"),
    ///         Err(e) => tracing::warn!("not joined: {e}"),
    ///     }
    /// });
    /// # }
    /// ```
    pub async fn join_seeds(&self) -> Result<usize, JoinError> {
        let seeds = &self.config().seeds;
        if seeds.is_empty() {
            return Err(JoinError::NoAddresses);
        }
        let retry = self.config().join_retry;
        let started = tokio::time::Instant::now();
        let mut attempt = 1u32;
        loop {
            let attempt_seeds = seeds.iter().map(|s| (s.to_string(), s.clone())).collect();
            let failures = match self.join_through(attempt_seeds, Vec::new(), true).await {
                Ok(contacted) => {
                    tracing::info!(contacted, attempt, "joined through the seeds");
                    return Ok(contacted);
                }
                Err(JoinError::Failed(failures)) => failures,
                Err(e) => return Err(e),
            };
            let wait = retry.wait_after(attempt);
            if let Some(deadline) = retry.deadline
                && started.elapsed() + wait > deadline
            {
                return Err(JoinError::GaveUp {
                    attempts: attempt,
                    failures,
                });
            }
            tracing::warn!(
                attempt,
                retry_in = ?wait,
                "joining through the seeds failed, will retry: {}",
                JoinError::Failed(failures)
            );
            tokio::time::sleep(wait).await;
            if !self.is_running() {
                return Err(JoinError::Shutdown);
            }
            attempt += 1;
        }
    }
}
