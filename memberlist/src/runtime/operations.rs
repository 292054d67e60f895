//! The [`Memberlist`] handle's operations other than joining and leaving: metadata, the
//! delegate, user messages, pings and broadcasts. Each is carried out by the driver task.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use smol_str::SmolStr;

use crate::delegate::Delegate;
use crate::machine::broadcast::BroadcastKey;
use crate::transport::Transport;

use super::driver::waiter;
use super::error::Error;
use super::handle::Memberlist;

impl<T: Transport, D: Delegate + 'static> Memberlist<T, D> {
    /// Re-announces this node with a new incarnation and the delegate's current
    /// [`node_meta`](Delegate::node_meta), and waits until the announcement has been gossiped
    /// (or `timeout`, which is [`Error::Timeout`]; the update still spreads) — Go's
    /// `UpdateNode`.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use bytes::Bytes;
    /// # use memberlist_core::delegate::Delegate;
    /// # use memberlist::runtime::{Error, Memberlist};
    /// # use memberlist_core::transport::Transport;
    /// struct Meta(Bytes);
    /// impl Delegate for Meta {
    ///     fn node_meta(&mut self, _limit: usize) -> Bytes { self.0.clone() }
    /// }
    ///
    /// # async fn f<T: Transport>(ml: Memberlist<T, Meta>) -> Result<(), Error> {
    /// ml.with_delegate(|d| d.0 = Bytes::from_static(b"role=primary")).await?;
    /// ml.update_meta(Duration::from_secs(5)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_meta(&self, timeout: Duration) -> Result<(), Error> {
        self.broadcast_within("metadata update broadcast", timeout, |core, now| {
            core.machine.update_meta(now)
        })
        .await
    }

    /// Runs `f` on the delegate, inside the driver task, and returns its result: the way to
    /// change what the delegate reports (metadata, local state) or to read what it collected.
    /// Keep `f` short: the protocol waits while it runs.
    ///
    /// ```no_run
    /// # use memberlist_core::delegate::Delegate;
    /// # use memberlist::runtime::{Error, Memberlist};
    /// # use memberlist_core::transport::Transport;
    /// #[derive(Default)]
    /// struct Inbox(Vec<bytes::Bytes>);
    /// impl Delegate for Inbox {
    ///     fn notify_message(&mut self, msg: bytes::Bytes) { self.0.push(msg) }
    /// }
    ///
    /// # async fn f<T: Transport>(ml: Memberlist<T, Inbox>) -> Result<(), Error> {
    /// let received = ml.with_delegate(|inbox| std::mem::take(&mut inbox.0)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_delegate<R, F>(&self, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut D) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.call(move |core, now| core.machine.with_delegate(now, f))
            .await
    }

    /// `msg` as a user message of one datagram, if it fits.
    fn datagram(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        let (len, max) = (msg.len(), self.shared.max_user_datagram);
        if len > max {
            return Err(Error::MessageTooLarge { len, max });
        }
        Ok(msg.to_vec())
    }

    /// Sends a user message to a member in one datagram (UDP), with no delivery guarantee —
    /// Go's `SendBestEffort`. The receiver's delegate gets it in
    /// [`notify_message`](Delegate::notify_message).
    ///
    /// ```no_run
    /// # use memberlist::runtime::{Error, Memberlist};
    /// # use memberlist_core::transport::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) -> Result<(), Error> {
    /// for m in ml.members() {
    ///     if m.name != ml.name() {
    ///         ml.send_best_effort(&m.name, b"tick").await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_best_effort(&self, node: &str, msg: impl AsRef<[u8]>) -> Result<(), Error> {
        let (node, msg) = (SmolStr::new(node), self.datagram(msg.as_ref())?);
        self.call(move |core, now| core.machine.send_best_effort(now, &node, &msg))
            .await?
            .map_err(Error::from)
    }

    /// Sends a user message in one datagram to an address, member or not — Go's
    /// `SendToAddress`.
    pub async fn send_to_address(
        &self,
        to: SocketAddr,
        msg: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        let msg = self.datagram(msg.as_ref())?;
        self.call(move |core, now| core.machine.send_to_address(now, to, &msg))
            .await
    }

    /// Sends a user message to a member over a stream (TCP) and waits until it was written
    /// — Go's `SendReliable`. Fails if the node is unknown, cannot be reached, or the write
    /// does not finish within the TCP timeout.
    pub async fn send_reliable(&self, node: &str, msg: impl AsRef<[u8]>) -> Result<(), Error> {
        let (name, msg) = (SmolStr::new(node), msg.as_ref().to_vec());
        let waiter = self
            .call(move |core, now| {
                let id = core.machine.send_reliable(now, &name, &msg)?;
                Ok::<_, Error>(waiter(&mut core.user_streams, id))
            })
            .await??;
        match waiter.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(Error::Send {
                node: SmolStr::new(node),
                source: Box::new(source),
            }),
            Err(_) => Err(Error::Shutdown),
        }
    }

    /// Pings a member once (UDP) and returns the round-trip time; fails with
    /// [`Error::PingTimeout`] if no ack comes within the probe timeout — Go's `Ping`.
    ///
    /// ```no_run
    /// # use memberlist::runtime::{Error, Memberlist};
    /// # use memberlist_core::transport::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) -> Result<(), Error> {
    /// match ml.ping("node-b").await {
    ///     Ok(rtt) => println!("node-b answered in {rtt:?}"),
    ///     Err(Error::PingTimeout { .. }) => println!("node-b did not answer"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn ping(&self, node: &str) -> Result<Duration, Error> {
        let name = SmolStr::new(node);
        let to = self
            .call(move |core, _| {
                let m = core
                    .machine
                    .member(&name)
                    .ok_or_else(|| Error::UnknownNode(name.clone()))?;
                m.socket_addr().ok_or(Error::NoAddress(name))
            })
            .await??;
        self.ping_address(node, to).await
    }

    /// Pings `node` at `to` (the node need not be a member; an empty name pings whoever
    /// listens there) and returns the round-trip time.
    pub async fn ping_address(&self, node: &str, to: SocketAddr) -> Result<Duration, Error> {
        let name = SmolStr::new(node);
        let waiter = self
            .call(move |core, now| {
                let seq = core.machine.ping(now, &name, to);
                waiter(&mut core.pings, seq)
            })
            .await?;
        match waiter.await {
            Ok(Some(rtt)) => Ok(rtt),
            Ok(None) => Err(Error::PingTimeout {
                node: SmolStr::new(node),
                timeout: self.shared.config.protocol.probe_timeout,
            }),
            Err(_) => Err(Error::Shutdown),
        }
    }

    /// Queues a user message to be gossiped to the cluster with memberlist's own messages
    /// (piggybacked on probes and gossip, retransmitted a limited number of times, as Go's
    /// `TransmitLimitedQueue`). A message with the same [`BroadcastKey`] replaces a queued
    /// one. Receivers get it in [`notify_message`](Delegate::notify_message).
    ///
    /// ```no_run
    /// # use memberlist_core::machine::broadcast::BroadcastKey;
    /// # use memberlist::runtime::{Error, Memberlist};
    /// # use memberlist_core::transport::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) -> Result<(), Error> {
    /// // A newer "leader" announcement replaces one still queued.
    /// ml.queue_broadcast(BroadcastKey::named("leader"), &b"leader=node-a"[..]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn queue_broadcast(
        &self,
        key: BroadcastKey,
        msg: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let msg = msg.into();
        self.call(move |core, now| core.machine.queue_broadcast(now, key, msg, None))
            .await
    }

    /// Like [`queue_broadcast`](Self::queue_broadcast), and waits until the message has been
    /// sent enough times (or replaced by a newer one), or `timeout` ([`Error::Timeout`]).
    pub async fn broadcast_and_wait(
        &self,
        key: BroadcastKey,
        msg: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<(), Error> {
        let msg = msg.into();
        self.broadcast_within("broadcast", timeout, move |core, now| {
            let id = core.notify_id();
            core.machine.queue_broadcast(now, key, msg, Some(id));
            id
        })
        .await
    }
}
