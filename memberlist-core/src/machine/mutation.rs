//! Injected bugs for testing the tests (feature `mutations`, never for production): each
//! breaks one property the simulator checks, to show the check fires. Without the feature
//! every check is a constant `false`.

use crate::delegate::Delegate;

use super::Machine;

/// One injected bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mutation {
    /// No bug.
    #[default]
    None,
    /// A node accused of being suspect or dead does not refute.
    NoRefute,
    /// A refutation sets our incarnation one below the accused one (ours goes backwards).
    IncarnationBackwards,
    /// An alive message is taken without a higher incarnation, so a node that left or died
    /// comes back at a stale incarnation.
    StaleRejoin,
    /// Push/pulls merge none of the remote states (a healed partition never re-merges).
    IgnorePushPullStates,
}

impl<D: Delegate> Machine<D> {
    /// Injects `mutation` into this machine (test builds only).
    #[cfg(feature = "mutations")]
    pub fn set_mutation(&mut self, mutation: Mutation) {
        self.mutation = mutation;
    }

    /// Whether `mutation` is injected.
    #[inline]
    pub(crate) fn mutated(&self, mutation: Mutation) -> bool {
        #[cfg(feature = "mutations")]
        {
            self.mutation == mutation
        }
        #[cfg(not(feature = "mutations"))]
        {
            let _ = mutation;
            false
        }
    }
}
