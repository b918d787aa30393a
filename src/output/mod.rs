//! Sinks: everything that turns events into bytes for a person or a program.

pub mod escape;
pub mod json;
pub mod text;

use std::io;

use crate::event::Event;

/// Receives events in capture order.
pub trait Sink {
    fn event(&mut self, event: &Event) -> io::Result<()>;
    fn finish(&mut self) -> io::Result<()>;
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
