//! The TLS secrets every connection looks up: from `--tls-keylog` (read again when a live
//! capture meets a connection it has no secrets for) and from the capture's own Decryption
//! Secrets Blocks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::capture::keyfile::KeyFile;
use crate::tls::keylog::{ClientRandom, KeyLog, Malformed, Secrets};
use crate::tls::session::KeySource;

#[derive(Debug, Default)]
pub struct KeyStore {
    log: Mutex<KeyLog>,
    file: Mutex<Option<KeyFile>>,
    /// The capture is live: the key log may still grow.
    live: bool,
    /// Lines skipped so far, for the warnings.
    malformed: Mutex<Vec<Malformed>>,
    /// `malformed` may hold lines: asked after every packet, and a lock each time was 0.4 % of
    /// the text view's instructions on a capture of small messages.
    any_malformed: AtomicBool,
}

impl KeyStore {
    /// Secrets from `text` (the key log's content when `file` is given).
    pub fn new(file: Option<(KeyFile, Vec<u8>)>, live: bool) -> KeyStore {
        let store = KeyStore {
            live,
            ..KeyStore::default()
        };
        if let Some((file, text)) = file {
            store.add(&text);
            *lock(&store.file) = Some(file);
        }
        store
    }

    /// Add key log lines (a Decryption Secrets Block, or what the file gained).
    pub fn add(&self, text: &[u8]) {
        let bad = lock(&self.log).add(text);
        if !bad.is_empty() {
            lock(&self.malformed).extend(bad);
            self.any_malformed.store(true, Ordering::Release);
        }
    }

    /// Malformed lines seen since the last call.
    pub fn take_malformed(&self) -> Vec<Malformed> {
        // A plain load first: the usual answer, none, costs no atomic write.
        if !self.any_malformed.load(Ordering::Acquire)
            || !self.any_malformed.swap(false, Ordering::Acquire)
        {
            return Vec::new();
        }
        std::mem::take(&mut *lock(&self.malformed))
    }
}

/// A poisoned lock only means another thread panicked while holding it; the key log is still
/// usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl KeySource for KeyStore {
    fn secrets(&self, random: &ClientRandom, enough: &dyn Fn(&Secrets) -> bool) -> Option<Secrets> {
        let known = lock(&self.log).get(random).filter(|s| enough(s)).cloned();
        if known.is_some() {
            return known;
        }
        // The secrets (or the rest of them: a TLS stack writes a connection's lines one by one)
        // may have been appended since the file was read.
        let more = lock(&self.file)
            .as_mut()
            .and_then(|f| f.read_new().ok())
            .filter(|t| !t.is_empty())?;
        self.add(&more);
        lock(&self.log).get(random).filter(|s| enough(s)).cloned()
    }

    fn may_learn_more(&self) -> bool {
        self.live && lock(&self.file).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_taken_once_each_as_they_come() {
        let store = KeyStore::default();
        assert!(store.take_malformed().is_empty());
        store.add(b"# a comment\nnot a key line\n");
        assert_eq!(store.take_malformed().len(), 1);
        assert!(store.take_malformed().is_empty());
        store.add(b"\n");
        assert!(store.take_malformed().is_empty());
        store.add(b"bad\nworse\n");
        assert_eq!(store.take_malformed().len(), 2);
        assert!(store.take_malformed().is_empty());
    }
}
