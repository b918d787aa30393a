//! `--export DIR`: every message payload to its own file, alongside any view. A sink wrapper:
//! each event goes on to the inner sink; messages are also written as
//! `DIR/conn{N}-{c2s|s2c}-{index:05}.{txt|bin}` (`txt` for valid UTF-8 text messages).
//!
//! The bytes written are the ones kept: the first `--max-payload` bytes, or with
//! `--full-payload` the whole (inflated) message up to `--max-message-bytes`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::Sink;
use crate::event::{Event, Message};

pub struct ExportSink<S: Sink> {
    inner: S,
    dir: PathBuf,
}

impl<S: Sink> ExportSink<S> {
    /// Creates `dir` (and its parents) now, so a bad path fails before any output.
    pub fn new(inner: S, dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| with_path(e, "cannot create directory", &dir))?;
        Ok(ExportSink { inner, dir })
    }
}

/// `conn{N}-{c2s|s2c}-{index:05}.{txt|bin}`.
fn file_name(m: &Message) -> String {
    let ext = if m.text().is_some() { "txt" } else { "bin" };
    format!("conn{}-{}-{:05}.{ext}", m.conn, m.dir.as_str(), m.index)
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

impl<S: Sink> Sink for ExportSink<S> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Event::Message(m) = event {
            let path = self.dir.join(file_name(m));
            fs::write(&path, &m.payload.bytes).map_err(|e| with_path(e, "cannot write", &path))?;
        }
        self.inner.event(event)
    }

    fn capture_start(&mut self, first_packet: crate::base::Timestamp) {
        self.inner.capture_start(first_packet)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }

    fn wants_more(&self) -> bool {
        self.inner.wants_more()
    }
}
