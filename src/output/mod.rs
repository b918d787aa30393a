//! Sinks: everything that turns events into bytes for a person or a program.

pub mod annotate;
pub mod app_table;
pub mod conversation_view;
pub mod decoded;
pub mod diagram;
pub mod digits;
pub mod escape;
pub mod export;
pub mod filter;
pub mod fit;
pub mod handshake;
pub mod json;
pub mod parquet;
pub mod report;
pub mod samples;
pub mod style;
pub mod table;
pub mod text;
pub mod words;

use std::io;

use crate::base::Timestamp;
use crate::event::Event;

/// Receives events in capture order.
pub trait Sink {
    fn event(&mut self, event: &Event) -> io::Result<()>;
    fn finish(&mut self) -> io::Result<()>;
    /// False once the sink has all it wants (e.g. `-c N` messages): the run stops early.
    fn wants_more(&self) -> bool {
        true
    }
    /// The capture's first packet, before any filter: the views' clocks start there, so
    /// filtering (`--conn`, `--packet`, `-f`) never moves the times they show.
    fn capture_start(&mut self, _first_packet: Timestamp) {}
    /// How this sink turns each event into bytes without state between events, if it does:
    /// then other threads may render events (`-j N`), and [`Sink::write_rendered`] writes the
    /// bytes in order. Only a sink that keeps no state between events (and whose filters pass
    /// everything) answers `Some`.
    fn renderer(&self) -> Option<Renderer> {
        None
    }
    /// Bytes that [`Sink::renderer`] made of events, written as [`Sink::event`] would have.
    fn write_rendered(&mut self, _bytes: &[u8]) -> io::Result<()> {
        Err(io::Error::other("this sink renders its own events"))
    }
    /// Several pieces of [`Sink::write_rendered`] bytes, in order: a sink may hand them to the
    /// system in one call, without copying them first.
    fn write_rendered_vectored(&mut self, pieces: &[io::IoSlice<'_>]) -> io::Result<()> {
        for piece in pieces {
            self.write_rendered(piece)?;
        }
        Ok(())
    }
}

/// All of `pieces` to `out` (`Write::write_all_vectored` is not stable yet).
pub fn write_all_vectored(
    out: &mut dyn io::Write,
    mut pieces: &mut [io::IoSlice<'_>],
) -> io::Result<()> {
    io::IoSlice::advance_slices(&mut pieces, 0);
    while !pieces.is_empty() {
        match out.write_vectored(pieces) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut pieces, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A stateless way of rendering events, to be run on any thread (see [`Sink::renderer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renderer {
    /// NDJSON lines, as [`json::JsonSink`] writes them.
    JsonLines,
}

impl Renderer {
    /// Append what the sink would write for `event` to `out`.
    pub fn render(self, event: &Event, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Renderer::JsonLines => json::render_line(event, out),
        }
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        (**self).event(event)
    }
    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
    fn wants_more(&self) -> bool {
        (**self).wants_more()
    }
    fn capture_start(&mut self, first_packet: Timestamp) {
        (**self).capture_start(first_packet)
    }
    fn renderer(&self) -> Option<Renderer> {
        (**self).renderer()
    }
    fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        (**self).write_rendered(bytes)
    }
    fn write_rendered_vectored(&mut self, pieces: &[io::IoSlice<'_>]) -> io::Result<()> {
        (**self).write_rendered_vectored(pieces)
    }
}

/// Both sinks get every event, `.0` first; e.g. a live view plus the summary table at the end.
pub struct Tee<A: Sink, B: Sink>(pub A, pub B);

impl<A: Sink, B: Sink> Sink for Tee<A, B> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.0.event(event)?;
        self.1.event(event)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.0.finish()?;
        self.1.finish()
    }
    fn wants_more(&self) -> bool {
        self.0.wants_more() && self.1.wants_more()
    }
    fn capture_start(&mut self, first_packet: Timestamp) {
        self.0.capture_start(first_packet);
        self.1.capture_start(first_packet)
    }
}

/// Collects events; for tests and for the table views.
#[derive(Default)]
pub struct Collect(pub Vec<Event>);

impl Sink for Collect {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.0.push(event.clone());
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}
