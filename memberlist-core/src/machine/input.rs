//! What every input does first and last: the shared prologue and epilogue of the machine's
//! entry points.

use std::hint::black_box;
use std::time::Instant;

use crate::delegate::Delegate;

use super::Machine;

impl<D: Delegate> Machine<D> {
    /// First thing every input does: warm the machine's state, then
    /// [`skip_idle_gossip_ticks`](Self::skip_idle_gossip_ticks).
    pub(super) fn begin_input(&mut self, now: Instant) {
        self.warm(now);
        self.skip_idle_gossip_ticks(now);
    }

    /// Last thing every input does: report the broadcasts that finished.
    pub(super) fn end_input(&mut self) {
        self.collect_finished_broadcasts();
    }

    /// Reads one word from each part of the state an input at `now` usually touches (the
    /// next probe target's entry too, when a probe is due). A driver of many machines finds
    /// each one's state out of the cache; these independent reads overlap the misses that
    /// handling the input would meet one after another.
    fn warm(&self, now: Instant) {
        let c = &self.cfg;
        let words = [
            self.members.len(),
            self.members.probe_index,
            usize::from(self.probe.is_some()),
            c.name.len(),
            c.probe_timeout.subsec_nanos() as usize,
            c.gossip_interval.subsec_nanos() as usize,
            c.udp_buffer_size,
            self.pipeline.limits().max_datagram_size,
            self.broadcasts.num_queued(),
            self.transmits.len(),
            self.stream_requests.len(),
            self.events.len(),
            self.suspicions.len(),
            self.acks.len(),
            self.streams.len(),
            self.awareness.score() as usize,
            self.seq_no as usize,
        ];
        let entry = if now >= self.next_probe {
            self.members.warm_entry()
        } else {
            0
        };
        black_box((words, entry, self.next_gossip, self.next_push_pull));
    }
}
