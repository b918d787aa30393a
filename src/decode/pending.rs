//! Questions waiting for their answer, bounded: at most [`MAX_PENDING`], the oldest forgotten.
//!
//! Shared by the decoders that match answers by id (STOMP receipts and subscriptions,
//! graphql-ws operations, JSON-RPC requests).

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;

use super::types::{Answer, AppMessage, MAX_PENDING};
use crate::base::{Direction, Timestamp};

/// Where a question was asked, and what the answer's unit should know of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Question<T> {
    pub dir: Direction,
    pub message: u64,
    pub ts: Timestamp,
    /// What the question said that its answer lacks (a destination, an operation name).
    pub about: T,
}

impl<T> Question<T> {
    pub fn asked_by(msg: &AppMessage<'_>, about: T) -> Question<T> {
        Question {
            dir: msg.dir,
            message: msg.index,
            ts: msg.ts,
            about,
        }
    }

    /// The answer `msg` gives to this question, matched by `id`.
    pub fn answered_by(&self, msg: &AppMessage<'_>, id: &str) -> Answer {
        Answer {
            id: id.to_string(),
            dir: self.dir,
            message: self.message,
            rtt_ns: msg.ts.0.saturating_sub(self.ts.0),
        }
    }
}

/// Questions by id. Insertion order is kept in a queue of (sequence, id) so the oldest can be
/// forgotten; entries for ids already answered stay in the queue until a compaction, which
/// runs when the queue is twice the bound (so each insert costs O(1) amortised).
///
/// Ids are kept as a 64-bit hash, not as sent: an id may be a megabyte, and a thousand of them
/// waiting must not hold a gigabyte. (The hash is SipHash with fixed keys, so a run gives the
/// same matches every time; two ids of one session colliding would only mismatch an answer.)
#[derive(Debug)]
pub struct Pending<K, T> {
    map: HashMap<u64, (u64, Question<T>)>,
    order: VecDeque<(u64, u64)>,
    next: u64,
    limit: usize,
    ids: PhantomData<K>,
}

/// The 64-bit hash a pending id is kept as.
fn key_of<K: Hash>(id: &K) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl<K: Eq + Hash + Clone, T> Default for Pending<K, T> {
    fn default() -> Self {
        Pending::with_limit(MAX_PENDING)
    }
}

impl<K: Eq + Hash + Clone, T> Pending<K, T> {
    pub fn with_limit(limit: usize) -> Self {
        Pending {
            map: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            limit: limit.max(1),
            ids: PhantomData,
        }
    }

    /// Keep `q` under `id` (replacing a question with the same id), forgetting the oldest
    /// question past the bound.
    pub fn insert(&mut self, id: K, q: Question<T>) {
        let id = key_of(&id);
        let seq = self.next;
        self.next += 1;
        self.map.insert(id, (seq, q));
        self.order.push_back((seq, id));
        while self.map.len() > self.limit {
            self.forget_oldest();
        }
        if self.order.len() > 2 * self.limit {
            let map = &self.map;
            self.order
                .retain(|(seq, id)| map.get(id).is_some_and(|(s, _)| s == seq));
        }
    }

    fn forget_oldest(&mut self) {
        while let Some((seq, id)) = self.order.pop_front() {
            if self.map.get(&id).is_some_and(|(s, _)| *s == seq) {
                self.map.remove(&id);
                return;
            }
        }
    }

    pub fn get(&self, id: &K) -> Option<&Question<T>> {
        self.map.get(&key_of(id)).map(|(_, q)| q)
    }

    pub fn remove(&mut self, id: &K) -> Option<Question<T>> {
        self.map.remove(&key_of(id)).map(|(_, q)| q)
    }

    /// Questions waiting (the tests check the bound).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Entries in the order queue, answered or not (bounded by twice the limit plus one).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(index: u64, ts: u64) -> AppMessage<'static> {
        AppMessage {
            dir: Direction::ClientToServer,
            index,
            text: true,
            bytes: b"",
            whole: true,
            ts: Timestamp(ts),
        }
    }

    #[test]
    fn long_ids_are_told_apart_by_all_their_bytes() {
        let mut p: Pending<String, ()> = Pending::default();
        let long = "a".repeat(100_000);
        p.insert(format!("{long}1"), Question::asked_by(&msg(1, 0), ()));
        p.insert(format!("{long}2"), Question::asked_by(&msg(2, 0), ()));
        assert_eq!(p.get(&format!("{long}2")).unwrap().message, 2);
        assert_eq!(p.remove(&format!("{long}1")).unwrap().message, 1);
        assert!(p.get(&format!("{long}1")).is_none());
    }

    #[test]
    fn the_oldest_question_is_forgotten_past_the_bound() {
        let mut p: Pending<u32, ()> = Pending::with_limit(3);
        for i in 0..5 {
            p.insert(i, Question::asked_by(&msg(i as u64 + 1, 0), ()));
        }
        assert_eq!(p.len(), 3);
        assert!(p.get(&0).is_none() && p.get(&1).is_none());
        assert_eq!(p.get(&4).unwrap().message, 5);
    }

    #[test]
    fn answered_questions_do_not_grow_the_queue() {
        let mut p: Pending<u32, ()> = Pending::with_limit(4);
        for i in 0..10_000 {
            p.insert(i, Question::asked_by(&msg(1, 0), ()));
            p.remove(&i);
            assert!(p.queued() <= 9);
        }
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn the_rtt_runs_from_question_to_answer() {
        let q = Question::asked_by(&msg(2, 1_000), ());
        let a = q.answered_by(&msg(3, 3_500), "7");
        assert_eq!((a.id.as_str(), a.message, a.rtt_ns), ("7", 2, 2_500));
    }
}
