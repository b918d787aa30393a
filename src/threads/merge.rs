//! The ordering merge of `-j N`: the items of the run in the order one thread would report
//! them, each call's events (or bytes) taken from its worker's results, which come back in the
//! order the worker got the calls.

use std::collections::VecDeque;
use std::io;

use crate::event::{CaptureSummary, Event};
use crate::output::Sink;

/// One place in the run's order.
pub enum Order {
    /// An event of the main thread's own (a diagnostic about a packet or the capture); boxed,
    /// because these are rare and calls are many.
    Main(Box<Event>),
    /// The next call handed to this worker: its events go here.
    Call(usize),
}

/// What a call produced, for a batch of calls: events, or the bytes the sink's renderer made
/// of them.
pub enum Output {
    Events(Vec<Event>),
    Bytes(Vec<u8>),
}

/// A worker's results for one batch of calls.
pub struct Results {
    pub output: Output,
    /// Where each call's part of `output` ends (events or bytes), one per call in order (the
    /// last one only a piece of its call's output when `unfinished`).
    pub ends: Vec<usize>,
    /// Rendering the call after the last in `ends` failed: the run stops there.
    pub error: Option<io::Error>,
    /// The connections shown among these events (`websocket_connections`, `tls_*`).
    pub counts: CaptureSummary,
    /// The batch's input buffer, emptied, for the main thread to fill again (with the last
    /// part of a batch's results).
    pub spare: Vec<u8>,
    /// The last call's output goes on in the next results (a call whose output was handed
    /// over in pieces).
    pub unfinished: bool,
    /// What the events in `output` hold, about ([`event_weight`]).
    events_weight: usize,
}

impl Results {
    /// Results as bytes (written into `buffer`, emptied first), or as events.
    pub fn new(bytes: Option<Vec<u8>>) -> Results {
        Results {
            output: match bytes {
                Some(mut b) => {
                    b.clear();
                    Output::Bytes(b)
                }
                None => Output::Events(Vec::new()),
            },
            ends: Vec::new(),
            error: None,
            counts: CaptureSummary::default(),
            spare: Vec::new(),
            unfinished: false,
            events_weight: 0,
        }
    }

    /// Keep an event of the call at hand (results as events).
    pub fn keep(&mut self, event: Event) {
        if let Output::Events(kept) = &mut self.output {
            self.events_weight += event_weight(&event);
            kept.push(event);
        }
    }

    /// About the memory the output holds: its bytes, or its events with their payloads.
    pub fn weight(&self) -> usize {
        match &self.output {
            Output::Bytes(b) => b.len(),
            Output::Events(_) => self.events_weight,
        }
    }

    /// The output so far is one more call's.
    pub fn end_call(&mut self) {
        let end = match &self.output {
            Output::Events(v) => v.len(),
            Output::Bytes(b) => b.len(),
        };
        self.ends.push(end);
    }
}

/// About the memory an event holds: itself and its payload buffer (what whole messages make
/// large; a small payload may sit in a reused buffer larger than itself).
pub fn event_weight(e: &Event) -> usize {
    let payload = match e {
        Event::Message(m) => m.payload.bytes.capacity(),
        Event::Frame(f) => f.payload.bytes.capacity(),
        _ => 0,
    };
    std::mem::size_of::<Event>() + payload
}

/// Why the merge stopped.
#[derive(Debug)]
pub enum Failed {
    /// Writing to the sink failed (or a worker could not render).
    Output(io::Error),
    /// This worker's results can no longer come.
    Worker(usize),
}

/// Reading position in one worker's current results.
struct Cursor {
    results: Results,
    /// The next call, and where its part starts.
    call: usize,
    start: usize,
}

impl Cursor {
    fn exhausted(&self) -> bool {
        self.call >= self.results.ends.len() && self.results.error.is_none()
    }

    /// The next call's events to `sink`, or its bytes to `unwritten` (as this worker's range);
    /// false when that was only a piece of the call's output, the rest in the next results.
    fn write_next(
        &mut self,
        worker: usize,
        unwritten: &mut Vec<Range>,
        sink: &mut dyn Sink,
    ) -> Result<bool, Failed> {
        let Some(&end) = self.results.ends.get(self.call) else {
            let e = self
                .results
                .error
                .take()
                .unwrap_or_else(|| io::Error::other("no result"));
            return Err(Failed::Output(e));
        };
        let start = std::mem::replace(&mut self.start, end);
        self.call += 1;
        match &self.results.output {
            Output::Events(events) => {
                for e in &events[start..end] {
                    sink.event(e).map_err(Failed::Output)?;
                }
            }
            Output::Bytes(_) if end > start => match unwritten.last_mut() {
                // The worker's previous call came just before: one piece for both.
                Some(last) if last.worker == worker && last.end == start => last.end = end,
                _ => unwritten.push(Range { worker, start, end }),
            },
            Output::Bytes(_) => {}
        }
        Ok(!(self.results.unfinished && self.call == self.results.ends.len()))
    }
}

/// Results fetched for a worker: `Ok(None)` when none is ready yet (and the merge must not
/// wait), `Err(worker)` when none will come.
pub type Fetch<'a> = dyn FnMut(usize) -> Result<Option<Results>, usize> + 'a;

/// Bytes of a worker's current results, rendered and not yet written.
struct Range {
    worker: usize,
    start: usize,
    end: usize,
}

/// Ranges gathered before they are written in one call: enough that the main thread never
/// copies the workers' bytes (a buffered writer passes so much on as it is), well under the
/// system's limit of pieces per `writev` (1,024).
const UNWRITTEN_RANGES: usize = 256;

/// The order released so far, and each worker's results being read.
pub struct Merge {
    order: VecDeque<Order>,
    cursors: Vec<Option<Cursor>>,
    /// Rendered bytes whose turn has come, in order, all in the cursors' results: written
    /// before any of those results is let go, before any event, and before waiting.
    unwritten: Vec<Range>,
    /// Results read to their end, by worker: their buffers can be used again.
    pub spent: Vec<(usize, Results)>,
}

impl Merge {
    pub fn new(workers: usize) -> Merge {
        Merge {
            order: VecDeque::new(),
            cursors: (0..workers).map(|_| None).collect(),
            unwritten: Vec::new(),
            spent: Vec::new(),
        }
    }

    /// More of the order, once every call in it has been sent to its worker (so the merge only
    /// ever waits for results that will come).
    pub fn release(&mut self, items: impl Iterator<Item = Order>) {
        self.order.extend(items);
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Write the next item to `sink` (or the piece of a call's output that has come). False
    /// when the order is empty, or the next call's results are not there and `fetch` says not
    /// to wait.
    pub fn step(&mut self, fetch: &mut Fetch<'_>, sink: &mut dyn Sink) -> Result<bool, Failed> {
        let worker = match self.order.front() {
            None => {
                self.flush(sink)?;
                return Ok(false);
            }
            Some(Order::Call(w)) => *w,
            Some(Order::Main(_)) => {
                self.flush(sink)?;
                if let Some(Order::Main(e)) = self.order.pop_front() {
                    sink.event(&e).map_err(Failed::Output)?;
                }
                return Ok(true);
            }
        };
        if self.cursors[worker].as_ref().is_none_or(Cursor::exhausted) {
            // New results come (or are waited for): what is gathered goes out first.
            self.flush(sink)?;
        }
        let cursor = loop {
            match &mut self.cursors[worker] {
                Some(c) if !c.exhausted() => break c,
                slot => match fetch(worker).map_err(Failed::Worker)? {
                    Some(results) => {
                        let fresh = Cursor {
                            results,
                            call: 0,
                            start: 0,
                        };
                        if let Some(old) = slot.replace(fresh) {
                            self.spent.push((worker, old.results));
                        }
                    }
                    None => return Ok(false),
                },
            }
        };
        match cursor.write_next(worker, &mut self.unwritten, sink) {
            Ok(true) => {
                self.order.pop_front();
            }
            Ok(false) => {}
            Err(e) => {
                // What came before the failure is written, as one thread would have.
                let _ = self.flush(sink);
                return Err(e);
            }
        }
        if self.unwritten.len() >= UNWRITTEN_RANGES {
            self.flush(sink)?;
        }
        // Results read to their end are let go at once: their worker may be waiting for the
        // room they take (`Held` in mod.rs).
        if self.cursors[worker].as_ref().is_some_and(Cursor::exhausted) {
            self.flush(sink)?;
            if let Some(done) = self.cursors[worker].take() {
                self.spent.push((worker, done.results));
            }
        }
        Ok(true)
    }
}

impl Merge {
    /// Write the rendered bytes gathered so far, in one call to the sink.
    pub fn flush(&mut self, sink: &mut dyn Sink) -> Result<(), Failed> {
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let mut pieces = Vec::with_capacity(self.unwritten.len());
        for r in &self.unwritten {
            match self.cursors[r.worker].as_ref().map(|c| &c.results.output) {
                Some(Output::Bytes(bytes)) => pieces.push(io::IoSlice::new(&bytes[r.start..r.end])),
                _ => {
                    return Err(Failed::Output(io::Error::other(
                        "rendered bytes let go unwritten",
                    )))
                }
            }
        }
        let written = sink.write_rendered_vectored(&pieces);
        self.unwritten.clear();
        written.map_err(Failed::Output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::{ConnId, Diagnostic};

    /// What reached the sink, as short strings: events by their connection, bytes as text.
    #[derive(Default)]
    struct Record(Vec<String>);

    impl Sink for Record {
        fn event(&mut self, event: &Event) -> io::Result<()> {
            match event {
                Event::Diagnostic(d) => self.0.push(d.message.clone()),
                other => self.0.push(format!("{other:?}")),
            }
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.0.push(String::from_utf8_lossy(bytes).into_owned());
            Ok(())
        }
    }

    fn note(text: &str) -> Event {
        Event::Diagnostic(Diagnostic {
            conn: ConnId(0),
            stream: None,
            dir: None,
            packet: None,
            rule: &crate::base::rules::PACKET_SKIPPED,
            message: text.to_string(),
        })
    }

    /// Results whose calls rendered to the given strings.
    fn rendered(calls: &[&str]) -> Results {
        let mut r = Results::new(Some(Vec::new()));
        for c in calls {
            if let Output::Bytes(b) = &mut r.output {
                b.extend_from_slice(c.as_bytes());
            }
            r.end_call();
        }
        r
    }

    fn events(calls: &[&[&str]]) -> Results {
        let mut r = Results::new(None);
        for c in calls {
            if let Output::Events(v) = &mut r.output {
                v.extend(c.iter().map(|t| note(t)));
            }
            r.end_call();
        }
        r
    }

    /// Run the merge to its end over `results` (per worker, in the order they come).
    fn run(order: Vec<Order>, mut results: Vec<VecDeque<Results>>) -> Vec<String> {
        let mut merge = Merge::new(results.len());
        merge.release(order.into_iter());
        let mut sink = Record::default();
        let mut fetch = |w: usize| -> Result<Option<Results>, usize> { Ok(results[w].pop_front()) };
        while merge.step(&mut fetch, &mut sink).unwrap() {}
        assert!(merge.is_empty(), "every item was written");
        sink.0
    }

    #[test]
    fn calls_take_their_results_in_order_with_main_events_between() {
        let order = vec![
            Order::Call(1),
            Order::Main(Box::new(note("m1"))),
            Order::Call(0),
            Order::Call(1),
            Order::Call(0),
            Order::Main(Box::new(note("m2"))),
        ];
        let results = vec![
            VecDeque::from([rendered(&["a1", "a2"])]),
            VecDeque::from([rendered(&["b1"]), rendered(&["b2"])]),
        ];
        assert_eq!(run(order, results), ["b1", "m1", "a1", "b2", "a2", "m2"]);
    }

    #[test]
    fn calls_without_output_write_nothing_and_events_keep_their_grouping() {
        let order = vec![Order::Call(0), Order::Call(0), Order::Call(0)];
        let results = vec![VecDeque::from([events(&[&["x", "y"], &[], &["z"]])])];
        assert_eq!(run(order, results), ["x", "y", "z"]);
        let order = vec![Order::Call(0), Order::Call(0)];
        let results = vec![VecDeque::from([rendered(&["", "q"])])];
        assert_eq!(run(order, results), ["q"]);
    }

    #[test]
    fn the_merge_stops_where_a_result_is_not_there_yet_and_goes_on_later() {
        let mut merge = Merge::new(2);
        merge.release(
            [
                Order::Call(0),
                Order::Call(1),
                Order::Main(Box::new(note("m"))),
            ]
            .into_iter(),
        );
        let mut sink = Record::default();
        let mut pending: Vec<Option<Results>> = vec![Some(rendered(&["a"])), None];
        let mut fetch = |w: usize| -> Result<Option<Results>, usize> { Ok(pending[w].take()) };
        assert!(merge.step(&mut fetch, &mut sink).unwrap());
        assert!(
            !merge.step(&mut fetch, &mut sink).unwrap(),
            "worker 1 has not answered"
        );
        let mut fetch = |_: usize| -> Result<Option<Results>, usize> { Ok(Some(rendered(&["b"]))) };
        while merge.step(&mut fetch, &mut sink).unwrap() {}
        assert_eq!(sink.0, ["a", "b", "m"]);
    }

    #[test]
    fn a_workers_calls_in_a_row_go_out_as_one_piece_and_no_others_do() {
        let order = vec![
            Order::Call(0),
            Order::Call(0),
            Order::Call(1),
            Order::Call(0),
            Order::Call(0),
        ];
        let results = vec![
            VecDeque::from([rendered(&["a1", "a2", "a3"]), rendered(&["a4"])]),
            VecDeque::from([rendered(&["b1"])]),
        ];
        // a3 and a4 are in two results (two buffers): two pieces.
        assert_eq!(run(order, results), ["a1a2", "b1", "a3", "a4"]);
    }

    #[test]
    fn a_call_whose_output_comes_in_pieces_is_written_whole_before_the_next_item() {
        let mut first = rendered(&["a1", "b1-"]);
        first.unfinished = true;
        let mut second = rendered(&["b1+"]);
        second.unfinished = true;
        let third = rendered(&["b1!", "c1"]);
        let order = vec![
            Order::Call(0),
            Order::Call(0),
            Order::Main(Box::new(note("m"))),
            Order::Call(0),
            Order::Call(1),
        ];
        let results = vec![
            VecDeque::from([first, second, third]),
            VecDeque::from([rendered(&["z"])]),
        ];
        // A worker's calls one after the other in its buffer go out as one piece.
        assert_eq!(run(order, results), ["a1b1-", "b1+", "b1!", "m", "c1", "z"]);
    }

    #[test]
    fn a_worker_that_is_gone_or_failed_to_render_stops_the_merge() {
        let mut merge = Merge::new(1);
        merge.release([Order::Call(0)].into_iter());
        let mut fetch = |w: usize| -> Result<Option<Results>, usize> { Err(w) };
        let got = merge.step(&mut fetch, &mut Record::default());
        assert!(matches!(got, Err(Failed::Worker(0))));
        let mut failed = rendered(&["ok"]);
        failed.error = Some(io::Error::other("cannot render"));
        let mut merge = Merge::new(1);
        merge.release([Order::Call(0), Order::Call(0)].into_iter());
        let mut once = Some(failed);
        let mut fetch = |_: usize| -> Result<Option<Results>, usize> { Ok(once.take()) };
        let mut sink = Record::default();
        assert!(merge.step(&mut fetch, &mut sink).unwrap());
        assert!(matches!(
            merge.step(&mut fetch, &mut sink),
            Err(Failed::Output(_))
        ));
        assert_eq!(sink.0, ["ok"]);
    }
}
