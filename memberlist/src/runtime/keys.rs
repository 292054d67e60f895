//! Key rotation and the GossipVerify switches on a running node.
//!
//! The node's encryption plugin (given to [`Builder::encryption`](super::Builder::encryption))
//! holds the keyring; every packet and stream frame reads it once (the AES-GCM plugin takes a
//! snapshot per packet), so a change applies from the next packet on, and packets already
//! being sealed or opened finish with the keys they started with.
//!
//! SECURITY.md gives the procedures step by step: rotating the key of a live cluster
//! ([`install_key`](Memberlist::install_key), [`use_key`](Memberlist::use_key),
//! [`remove_key`](Memberlist::remove_key), each on every node before the next) and moving a
//! plaintext cluster to encryption with the GossipVerify switches.

use std::sync::Arc;

use crate::delegate::Delegate;
use crate::encryption::{Encryption, Keyring, KeyringError, SecretKey};
use crate::transport::Transport;
use crate::wire::Pipeline;

use super::error::Error;
use super::handle::Memberlist;

/// Errors of key management and of the GossipVerify switches.
///
/// ```
/// use memberlist_core::encryption::KeyringError;
/// use memberlist::runtime::KeyError;
/// let err = KeyError::from(KeyringError::RemovePrimary);
/// assert!(err.to_string().contains("primary"));
/// assert!(KeyError::EncryptionDisabled.to_string().contains("not enabled"));
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The node was started without an encryption plugin: it has no keyring to change, and
    /// the GossipVerify flags mean nothing.
    #[error("encryption is not enabled on this node (it was started without an encryption plugin)")]
    EncryptionDisabled,
    /// The keyring refused the change (unknown key, removing the primary key).
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The node has been shut down.
    #[error("memberlist is shut down")]
    Shutdown,
}

impl From<Error> for KeyError {
    fn from(_: Error) -> Self {
        // `call` fails only when the driver is gone.
        KeyError::Shutdown
    }
}

/// Go's GossipVerifyIncoming and GossipVerifyOutgoing as they are now on a node.
///
/// ```
/// use memberlist::runtime::GossipVerify;
/// let flags = GossipVerify { incoming: true, outgoing: false };
/// assert_ne!(flags, GossipVerify::default());
/// assert_eq!(GossipVerify::default(), GossipVerify { incoming: true, outgoing: true });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GossipVerify {
    /// Unencrypted packets and streams are refused.
    pub incoming: bool,
    /// What is sent is encrypted.
    pub outgoing: bool,
}

impl Default for GossipVerify {
    fn default() -> Self {
        Self {
            incoming: true,
            outgoing: true,
        }
    }
}

impl<T: Transport, D: Delegate + 'static> Memberlist<T, D> {
    /// The machine's wire pipeline (its clones share the keyring and the flags).
    async fn wire(&self) -> Result<Pipeline, KeyError> {
        Ok(self.call(|core, _| core.machine.pipeline().clone()).await?)
    }

    /// The encryption plugin, or [`KeyError::EncryptionDisabled`].
    async fn plugin(&self) -> Result<Arc<dyn Encryption>, KeyError> {
        self.wire()
            .await?
            .encryption()
            .cloned()
            .ok_or(KeyError::EncryptionDisabled)
    }

    /// Installs a key for decryption (Go's `Keyring.AddKey`): packets sealed with it are
    /// accepted from now on, but the primary key still seals what we send. Installing a key
    /// that is already there changes nothing; the result says whether the key is new.
    ///
    /// ```no_run
    /// # use memberlist_core::encryption::SecretKey;
    /// # use memberlist::runtime::{KeyError, Memberlist};
    /// # use memberlist_core::transport::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) -> Result<(), KeyError> {
    /// let new = SecretKey::new(&[7u8; 32])?;
    /// assert!(ml.install_key(new.clone()).await?);
    /// assert!(!ml.install_key(new.clone()).await?); // already installed
    /// ml.use_key(&new).await?;
    /// assert_eq!(ml.keys().await?.primary(), &new);
    /// # Ok(()) }
    /// ```
    pub async fn install_key(&self, key: SecretKey) -> Result<bool, KeyError> {
        let enc = self.plugin().await?;
        let fresh = !enc.keyring().keys().contains(&key);
        enc.install_key(key);
        let keys = enc.keyring().keys().len();
        tracing::info!(keys, new = fresh, "installed an encryption key");
        Ok(fresh)
    }

    /// Makes an installed key the primary one (Go's `Keyring.UseKey`): it seals everything
    /// sent from the next packet on. Fails with [`KeyringError::KeyNotFound`] if the key is
    /// not installed.
    pub async fn use_key(&self, key: &SecretKey) -> Result<(), KeyError> {
        let enc = self.plugin().await?;
        enc.use_key(key)?;
        tracing::info!(
            keys = enc.keyring().keys().len(),
            "changed the primary encryption key"
        );
        Ok(())
    }

    /// Removes a key (Go's `Keyring.RemoveKey`): packets sealed with it are refused from now
    /// on. The primary key cannot be removed ([`KeyringError::RemovePrimary`]); make another
    /// key primary first. Unlike Go, removing a key that is not installed is an error
    /// ([`KeyringError::KeyNotFound`]) rather than a silent no-op.
    pub async fn remove_key(&self, key: &SecretKey) -> Result<(), KeyError> {
        let enc = self.plugin().await?;
        enc.remove_key(key)?;
        tracing::info!(
            keys = enc.keyring().keys().len(),
            "removed an encryption key"
        );
        Ok(())
    }

    /// The installed keys, primary first. [`SecretKey`]'s `Debug` output never shows the key
    /// bytes, so the keyring may be logged.
    pub async fn keys(&self) -> Result<Keyring, KeyError> {
        Ok(self.plugin().await?.keyring())
    }

    /// The GossipVerify flags in force now (they start as
    /// [`Config::gossip_verify_incoming`](super::Config::gossip_verify_incoming) and
    /// [`Config::gossip_verify_outgoing`](super::Config::gossip_verify_outgoing); the
    /// handle's [`config`](Memberlist::config) keeps the values the node started with).
    pub async fn gossip_verify(&self) -> Result<GossipVerify, KeyError> {
        let wire = self.wire().await?;
        Ok(GossipVerify {
            incoming: wire.verify_incoming(),
            outgoing: wire.verify_outgoing(),
        })
    }

    /// Switches Go's GossipVerifyIncoming on a running node: when on, unencrypted packets and
    /// streams are refused; when off, what cannot be decrypted is read as plaintext. Applies
    /// from the next packet or stream frame on. Fails without an encryption plugin.
    pub async fn set_gossip_verify_incoming(&self, on: bool) -> Result<(), KeyError> {
        let wire = self.wire().await?;
        if !wire.encryption_enabled() {
            return Err(KeyError::EncryptionDisabled);
        }
        wire.set_verify_incoming(on);
        tracing::info!(on, "gossip_verify_incoming switched");
        Ok(())
    }

    /// Switches Go's GossipVerifyOutgoing on a running node: when on, what we send is
    /// encrypted with the primary key; when off, it is sent in plaintext. Applies from the
    /// next packet or stream on. Fails without an encryption plugin.
    pub async fn set_gossip_verify_outgoing(&self, on: bool) -> Result<(), KeyError> {
        let wire = self.wire().await?;
        if !wire.encryption_enabled() {
            return Err(KeyError::EncryptionDisabled);
        }
        wire.set_verify_outgoing(on);
        tracing::info!(on, "gossip_verify_outgoing switched");
        Ok(())
    }
}
