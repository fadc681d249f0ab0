//! Per-connection ordering of responses: requests get consecutive sequence numbers as
//! they are delivered, JS completes them in any order, and responses reach the socket in
//! sequence order (Kafka clients match responses to requests by position).
//!
//! Invariant: `slots[i]` belongs to seq `next_to_write + i`; the front slot is always
//! still waiting (completed ones at the front move to `outgoing` at once), so `slots.len()`
//! is the number of requests the client is still waiting on.

use std::collections::VecDeque;

use crate::response::Response;
use crate::transmit::Outgoing;

#[derive(Debug)]
enum Slot {
    /// Delivered to JS, not answered; holds the request's size for the broker-wide count.
    Waiting { request_bytes: usize },
    /// Answered, waiting behind an earlier seq; `None` when the request has no response.
    Completed(Option<Response>),
}

/// Why a completion was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompletionRejected {
    /// Not a seq delivered on this connection, or one already written.
    UnknownSeq,
    /// Completed twice.
    AlreadyCompleted,
}

#[derive(Debug, Default)]
pub(crate) struct ResponseQueue {
    slots: VecDeque<Slot>,
    next_to_write: u32,
    /// Sum of `request_bytes` over waiting slots.
    waiting_request_bytes: usize,
    /// Byte-part bytes of completed slots not yet moved to `outgoing`.
    held_response_bytes: usize,
    outgoing: Outgoing,
}

impl ResponseQueue {
    /// Gives the next delivered request its seq.
    pub(crate) fn admit(&mut self, request_bytes: usize) -> u32 {
        let seq = self.next_to_write.wrapping_add(self.slots.len() as u32);
        self.slots.push_back(Slot::Waiting { request_bytes });
        self.waiting_request_bytes += request_bytes;
        seq
    }

    /// Records the answer to `seq` and moves every response now in order to `outgoing`.
    /// Returns the answered request's size (it no longer counts as queued request bytes).
    pub(crate) fn complete(
        &mut self,
        seq: u32,
        response: Option<Response>,
    ) -> Result<usize, CompletionRejected> {
        let index = seq.wrapping_sub(self.next_to_write) as usize;
        let slot = self
            .slots
            .get_mut(index)
            .ok_or(CompletionRejected::UnknownSeq)?;
        let Slot::Waiting { request_bytes } = *slot else {
            return Err(CompletionRejected::AlreadyCompleted);
        };
        self.waiting_request_bytes -= request_bytes;
        self.held_response_bytes += response.as_ref().map_or(0, Response::buffered_bytes);
        *slot = Slot::Completed(response);
        self.move_ready_to_outgoing();
        Ok(request_bytes)
    }

    fn move_ready_to_outgoing(&mut self) {
        while let Some(Slot::Completed(_)) = self.slots.front() {
            let Some(Slot::Completed(response)) = self.slots.pop_front() else {
                unreachable!("the front slot was just seen completed")
            };
            self.next_to_write = self.next_to_write.wrapping_add(1);
            if let Some(response) = response {
                self.held_response_bytes -= response.buffered_bytes();
                for part in response.into_parts() {
                    self.outgoing.push(part);
                }
            }
        }
    }

    /// Requests the client still waits on (answered or not).
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn waiting_request_bytes(&self) -> usize {
        self.waiting_request_bytes
    }

    /// Owned response bytes held, whether waiting for order or ready to write.
    pub(crate) fn queued_response_bytes(&self) -> usize {
        self.held_response_bytes + self.outgoing.buffered_bytes()
    }

    /// Nothing in flight and nothing left to write.
    pub(crate) fn is_quiescent(&self) -> bool {
        self.slots.is_empty() && self.outgoing.is_empty()
    }

    pub(crate) fn outgoing(&mut self) -> &mut Outgoing {
        &mut self.outgoing
    }

    pub(crate) fn has_outgoing(&self) -> bool {
        !self.outgoing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(bytes: &[u8]) -> Option<Response> {
        let mut response = Response::new();
        response.push_bytes(bytes);
        Some(response)
    }

    #[test]
    fn responses_completed_out_of_order_become_ready_in_seq_order() {
        let mut queue = ResponseQueue::default();
        let seqs: Vec<u32> = (0..3).map(|_| queue.admit(10)).collect();
        assert_eq!(seqs, vec![0, 1, 2]);
        assert_eq!(queue.waiting_request_bytes(), 30);

        assert_eq!(queue.complete(2, response(b"two")), Ok(10));
        assert_eq!(queue.complete(1, None), Ok(10));
        assert!(!queue.has_outgoing(), "seq 0 still holds the others back");
        assert_eq!(queue.in_flight(), 3);
        assert_eq!(queue.queued_response_bytes(), 3);

        assert_eq!(queue.complete(0, response(b"zero")), Ok(10));
        assert_eq!(queue.in_flight(), 0);
        assert_eq!(queue.waiting_request_bytes(), 0);
        assert_eq!(queue.queued_response_bytes(), 7);
        assert!(queue.has_outgoing());
        assert!(!queue.is_quiescent());
    }

    #[test]
    fn unknown_and_repeated_completions_are_rejected() {
        let mut queue = ResponseQueue::default();
        queue.admit(1);
        queue.admit(1);
        assert_eq!(queue.complete(5, None), Err(CompletionRejected::UnknownSeq));
        assert_eq!(queue.complete(1, None), Ok(1));
        assert_eq!(
            queue.complete(1, None),
            Err(CompletionRejected::AlreadyCompleted)
        );
        assert_eq!(queue.complete(0, None), Ok(1));
        assert_eq!(queue.complete(0, None), Err(CompletionRejected::UnknownSeq));
        assert!(queue.is_quiescent());
    }

    #[test]
    fn seqs_wrap_around_u32() {
        let mut queue = ResponseQueue {
            next_to_write: u32::MAX,
            ..ResponseQueue::default()
        };
        assert_eq!(queue.admit(1), u32::MAX);
        assert_eq!(queue.admit(1), 0);
        assert_eq!(queue.complete(0, None), Ok(1));
        assert_eq!(queue.complete(u32::MAX, None), Ok(1));
        assert_eq!(queue.admit(1), 1);
    }
}
