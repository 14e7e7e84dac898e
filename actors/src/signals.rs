//! The problem and recovery events the store actor just committed, handed to the incident
//! manager in memory so it need not read back from the log what was just written.
//!
//! The log stays the truth. The store actor records every commit as a [`Span`] of seqs (with
//! the signals in it, often none), in seq order; the incident manager takes spans that follow
//! on from its watermark without a gap. Anything else — the queue overflowed, the incident
//! manager restarted and missed spans, a span not recorded yet — shows up as a gap, and the
//! reader falls back to reading the log. So the queue can only make catch-up cheaper, never
//! change what is applied.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::event::Event;

/// Most signals held; past it the queue starts over and the reader uses the log.
const SIGNALS_MAX: usize = 16_384;
/// Most spans held (commits without signals count too).
const SPANS_MAX: usize = 4_096;

/// One commit: seqs `first..=last`, and the problem and recovery events among them.
#[derive(Debug, Clone)]
pub struct Span {
    pub first: u64,
    pub last: u64,
    pub signals: Vec<Arc<Event>>,
}

#[derive(Debug, Default)]
pub struct SignalQueue {
    spans: VecDeque<Span>,
    signals: usize,
}

impl SignalQueue {
    /// Records a commit; the store actor calls this in seq order.
    pub fn push(&mut self, span: Span) {
        if self.signals + span.signals.len() > SIGNALS_MAX || self.spans.len() >= SPANS_MAX {
            self.spans.clear(); // the reader will find a gap and read the log
            self.signals = 0;
        }
        if let Some(back) = self.spans.back_mut() {
            if back.signals.is_empty() && span.signals.is_empty() && back.last + 1 == span.first {
                back.last = span.last; // two quiet commits in a row are one span
                return;
            }
        }
        self.signals += span.signals.len();
        self.spans.push_back(span);
    }

    /// The signals after `watermark`, at most `max` of them, with the seq they cover up to
    /// (a span is split after its `max`-th signal). `None` when the queue does not follow on
    /// from `watermark`: read the log instead.
    pub fn take(&mut self, watermark: u64, max: usize) -> Option<(Vec<Arc<Event>>, u64)> {
        while self
            .spans
            .front()
            .is_some_and(|span| span.last <= watermark)
        {
            self.pop();
        }
        if self.spans.front()?.first > watermark + 1 {
            return None;
        }
        let (mut taken, mut covered) = (Vec::new(), watermark);
        while let Some(span) = self.spans.front_mut() {
            if span.first > covered + 1 || taken.len() >= max {
                break;
            }
            let held = span.signals.len();
            span.signals.retain(|e| e.seq > covered);
            self.signals -= held - span.signals.len();
            let room = max - taken.len();
            if span.signals.len() > room {
                // Up to and including the last signal taken; the rest of the span stays.
                let rest = span.signals.split_off(room);
                covered = span.signals.last().map_or(covered, |e| e.seq);
                taken.append(&mut span.signals);
                span.signals = rest;
                span.first = covered + 1;
                self.signals -= room;
                break;
            }
            let span = self.pop();
            taken.extend(span.signals);
            covered = span.last;
        }
        Some((taken, covered))
    }

    fn pop(&mut self) -> Span {
        let span = self.spans.pop_front().expect("checked by the caller");
        self.signals -= span.signals.len();
        span
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::EventDraft;

    fn span(first: u64, last: u64, signal_seqs: &[u64]) -> Span {
        let signals = signal_seqs
            .iter()
            .map(|seq| {
                let draft = EventDraft::new("db.connection_lost", json!({}));
                Arc::new(draft.sequenced(*seq, crate::time::now()))
            })
            .collect();
        Span {
            first,
            last,
            signals,
        }
    }

    fn seqs(taken: &[Arc<Event>]) -> Vec<u64> {
        taken.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn spans_that_follow_on_are_taken_and_quiet_ones_only_move_the_watermark() {
        let mut queue = SignalQueue::default();
        queue.push(span(1, 3, &[1, 3]));
        queue.push(span(4, 5, &[]));
        queue.push(span(6, 6, &[]));
        queue.push(span(7, 9, &[8]));
        let (taken, covered) = queue.take(0, 100).unwrap();
        assert_eq!((seqs(&taken), covered), (vec![1, 3, 8], 9));
        assert!(queue.take(9, 100).is_none(), "nothing more in memory");
    }

    #[test]
    fn a_gap_sends_the_reader_to_the_log() {
        let mut queue = SignalQueue::default();
        queue.push(span(5, 6, &[6]));
        assert!(queue.take(2, 100).is_none(), "3 and 4 are not in memory");
        // Once the log brought the reader past the gap, the queue serves again.
        let (taken, covered) = queue.take(4, 100).unwrap();
        assert_eq!((seqs(&taken), covered), (vec![6], 6));
    }

    #[test]
    fn what_the_reader_has_is_skipped_even_inside_a_span() {
        let mut queue = SignalQueue::default();
        queue.push(span(1, 2, &[1]));
        queue.push(span(3, 6, &[3, 5]));
        let (taken, covered) = queue.take(4, 100).unwrap();
        assert_eq!((seqs(&taken), covered), (vec![5], 6));
    }

    #[test]
    fn takes_are_bounded_and_split_a_span_after_the_last_signal_taken() {
        let mut queue = SignalQueue::default();
        queue.push(span(1, 2, &[1, 2]));
        queue.push(span(3, 8, &[3, 5, 7]));
        let (taken, covered) = queue.take(0, 3).unwrap();
        assert_eq!((seqs(&taken), covered), (vec![1, 2, 3], 3));
        let (taken, covered) = queue.take(covered, 1).unwrap();
        assert_eq!((seqs(&taken), covered), (vec![5], 5));
        let (taken, covered) = queue.take(covered, 10).unwrap();
        assert_eq!(
            (seqs(&taken), covered),
            (vec![7], 8),
            "the rest of the span"
        );
        assert!(queue.take(covered, 10).is_none());
    }

    #[test]
    fn an_overflow_starts_over_and_shows_as_a_gap() {
        let mut queue = SignalQueue::default();
        let many: Vec<u64> = (1..=SIGNALS_MAX as u64).collect();
        queue.push(span(1, SIGNALS_MAX as u64, &many));
        let next = SIGNALS_MAX as u64 + 1;
        queue.push(span(next, next, &[next]));
        assert!(queue.take(0, usize::MAX).is_none());
        assert_eq!(seqs(&queue.take(next - 1, 10).unwrap().0), vec![next]);
    }
}
