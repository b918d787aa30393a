//! `--format parquet --out DIR`: the NDJSON records as parquet tables, one file per table, for
//! data engines (DuckDB, Spark, Trino, pandas) to read directly. The schema is documented in
//! docs/parquet.md; each column mirrors an NDJSON field (docs/json.md).
//!
//! Written as the events arrive, a row group at a time (`table.rs`): memory stays bounded
//! whatever the capture's size. Only a connection's row waits, from its `connection` record to
//! its `connection_end`, so that one row holds both; that is one small row per open connection.

mod schema;
pub mod table;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::Sink;
use crate::event::{ConnectionInfo, Event};
use table::{Column, Table};

/// The tables, in the order docs/parquet.md lists them: file stem and columns.
pub const TABLES: [(&str, &[Column]); 5] = [
    ("connections", schema::CONNECTIONS),
    ("handshakes", schema::HANDSHAKES),
    ("frames", schema::FRAMES),
    ("messages", schema::MESSAGES),
    ("diagnostics", schema::DIAGNOSTICS),
];

/// The open files, one per table.
struct Tables {
    connections: Table,
    handshakes: Table,
    frames: Table,
    messages: Table,
    diagnostics: Table,
}

pub struct ParquetSink {
    /// None once finished.
    tables: Option<Tables>,
    /// Connections seen and not yet ended: their row is written at the end.
    open: BTreeMap<u64, ConnectionInfo>,
}

/// Why the output directory cannot be used; printed once before exit 2.
fn dir_error(dir: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("--out {}: {why}", dir.display()))
}

/// The output directory, created if missing. One that already holds files is refused: a
/// day's tables must not be mixed with, or silently replace, another run's.
fn prepare_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(|e| dir_error(dir, e))?;
    let mut entries = fs::read_dir(dir).map_err(|e| dir_error(dir, e))?;
    if entries.next().is_some() {
        return Err(dir_error(
            dir,
            "the directory is not empty (parquet tables go into a new or empty directory)",
        ));
    }
    Ok(())
}

/// The path of a table's file in `dir`.
pub fn table_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.parquet"))
}

impl ParquetSink {
    /// Create `dir` (or check that it is empty) and start one file per table in it.
    pub fn create(dir: &Path) -> io::Result<ParquetSink> {
        prepare_dir(dir)?;
        let open = |i: usize| -> io::Result<Table> {
            let (stem, columns) = TABLES[i];
            let path = table_path(dir, stem);
            let file = File::create_new(&path).map_err(|e| dir_error(dir, e))?;
            Table::create(stem, columns, file)
        };
        let tables = Tables {
            connections: open(0)?,
            handshakes: open(1)?,
            frames: open(2)?,
            messages: open(3)?,
            diagnostics: open(4)?,
        };
        Ok(ParquetSink {
            tables: Some(tables),
            open: BTreeMap::new(),
        })
    }
}

fn finished() -> io::Error {
    io::Error::other("parquet output already finished")
}

impl Sink for ParquetSink {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let t = self.tables.as_mut().ok_or_else(finished)?;
        match event {
            Event::Connection(c) => {
                // A connection id is never reused; if it were, its first row is kept.
                if let Some(earlier) = self.open.insert(c.conn.0, c.clone()) {
                    schema::connection_row(&mut t.connections, &earlier, None)?;
                }
                Ok(())
            }
            Event::ConnectionEnd(e) => match self.open.remove(&e.conn.0) {
                Some(c) => schema::connection_row(&mut t.connections, &c, Some(e)),
                // Its `connection` record was filtered out: there is no row to end.
                None => Ok(()),
            },
            Event::Handshake(h) => schema::handshake_row(&mut t.handshakes, h),
            Event::Frame(f) => schema::frame_row(&mut t.frames, f),
            Event::Message(m) => schema::message_row(&mut t.messages, m),
            Event::Diagnostic(d) => schema::diagnostic_row(&mut t.diagnostics, d),
            // Gaps, HTTP/2 requests, stream ends and the summary stay NDJSON-only
            // (docs/parquet.md): gaps show as `lost` on frames and messages, and a stream's
            // or the capture's counts are a GROUP BY over frames and messages.
            Event::Gap(_)
            | Event::TlsRecord(_)
            | Event::Http2Frame(_)
            | Event::Http2Request(_)
            | Event::StreamEnd(_)
            | Event::CaptureEnd(_) => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let Some(mut t) = self.tables.take() else {
            return Ok(());
        };
        // Connections the run stopped before the end of (`-c N`, an interrupted capture).
        for c in std::mem::take(&mut self.open).into_values() {
            schema::connection_row(&mut t.connections, &c, None)?;
        }
        t.connections.finish()?;
        t.handshakes.finish()?;
        t.frames.finish()?;
        t.messages.finish()?;
        t.diagnostics.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only payload-like columns go without dictionary and statistics: a code or id column
    /// marked bulky by mistake would lose its compression and its min/max pruning.
    #[test]
    fn the_bulky_columns_are_the_payloads_and_the_mask_key() {
        let bulky: Vec<String> = (TABLES.iter())
            .flat_map(|(t, cols)| {
                cols.iter()
                    .filter(|c| c.bulky)
                    .map(move |c| format!("{t}.{}", c.name))
            })
            .collect();
        assert_eq!(
            bulky,
            [
                "frames.mask_key",
                "messages.text",
                "messages.data",
                "messages.decoded"
            ]
        );
    }
}
