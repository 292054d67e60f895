//! [`RecordingDelegate`]: a delegate for tests that announces metadata and state and forwards
//! what it receives into channels.

use bytes::Bytes;
use memberlist_core::delegate::Delegate;
use tokio::sync::mpsc;

/// Announces the metadata and push/pull state it is given, and forwards the user messages
/// and the remote state it receives into channels the test reads.
///
/// ```
/// use bytes::Bytes;
/// use memberlist::testing::RecordingDelegate;
///
/// let mut delegate = RecordingDelegate::default().with_meta(Bytes::from_static(b"v1"));
/// let inbox = delegate.messages(); // user messages arrive here
/// let merged = delegate.merged_states(); // (remote state, during a join?) arrive here
/// delegate.set_state(Bytes::from_static(b"my state"));
/// # drop((inbox, merged));
/// ```
#[derive(Debug, Default)]
pub struct RecordingDelegate {
    meta: Bytes,
    state: Bytes,
    messages: Option<mpsc::UnboundedSender<Bytes>>,
    merged: Option<mpsc::UnboundedSender<(Bytes, bool)>>,
}

impl RecordingDelegate {
    /// This delegate, announcing `meta` as the node's metadata.
    pub fn with_meta(mut self, meta: Bytes) -> Self {
        self.meta = meta;
        self
    }

    /// This delegate, announcing `state` in push/pull exchanges.
    pub fn with_state(mut self, state: Bytes) -> Self {
        self.state = state;
        self
    }

    /// Announces `meta` from now on (then call [`Memberlist::update_meta`]).
    ///
    /// [`Memberlist::update_meta`]: crate::Memberlist::update_meta
    pub fn set_meta(&mut self, meta: Bytes) {
        self.meta = meta;
    }

    /// Announces `state` in push/pull exchanges from now on.
    pub fn set_state(&mut self, state: Bytes) {
        self.state = state;
    }

    /// A channel receiving every user message from now on (a later call replaces it).
    pub fn messages(&mut self) -> mpsc::UnboundedReceiver<Bytes> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.messages = Some(tx);
        rx
    }

    /// A channel receiving every remote state merged from now on, with whether it came with a
    /// join (a later call replaces it).
    pub fn merged_states(&mut self) -> mpsc::UnboundedReceiver<(Bytes, bool)> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.merged = Some(tx);
        rx
    }
}

impl Delegate for RecordingDelegate {
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        self.meta.clone()
    }

    fn notify_message(&mut self, msg: Bytes) {
        if let Some(tx) = &self.messages {
            // A test that stopped reading has what it wanted.
            let _ = tx.send(msg);
        }
    }

    fn local_state(&mut self, _join: bool) -> Bytes {
        self.state.clone()
    }

    fn merge_remote_state(&mut self, state: Bytes, join: bool) {
        if let Some(tx) = &self.merged {
            let _ = tx.send((state, join));
        }
    }
}
