//! One parquet file written row group by row group: rows are buffered column by column and
//! handed to the `parquet` crate's column writers every [`ROW_GROUP_ROWS`] rows (or sooner,
//! at [`ROW_GROUP_BYTES`]), so memory stays bounded whatever the capture's size.
//!
//! The schema is a list of [`Column`]s, each with its meaning and the NDJSON field it mirrors,
//! so docs/parquet.md can be checked against the code.

use std::fs::File;
use std::io::{self, BufWriter};
use std::sync::Arc;

use ::parquet::basic::Compression;
use ::parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use ::parquet::file::properties::{EnabledStatistics, WriterProperties};
use ::parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use ::parquet::schema::parser::parse_message_type;
use ::parquet::schema::types::ColumnPath;
use bytes::Bytes;

/// Rows per row group. DuckDB and Spark read row groups in parallel; ~64k rows of frames is
/// a few MB, large enough for good compression and small enough to keep memory flat.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// A row group is also flushed once its buffered values reach this many bytes: messages kept
/// whole (`--full-payload`, up to 64 MiB each) would otherwise fill memory before the row
/// count does.
pub const ROW_GROUP_BYTES: usize = 32 << 20;

/// What a column holds, and how it is written in parquet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// BOOLEAN.
    Bool,
    /// INT64: ids, counts, offsets.
    Int,
    /// DOUBLE.
    Float,
    /// BYTE_ARRAY annotated STRING (UTF-8).
    Text,
    /// BYTE_ARRAY annotated STRING, holding a JSON document (lists and objects).
    Json,
    /// BYTE_ARRAY without annotation: raw bytes.
    Bytes,
    /// INT64 TIMESTAMP(NANOS, UTC): the capture timestamp.
    Timestamp,
}

impl Kind {
    /// The type as the parquet schema language writes it.
    fn schema_type(self) -> &'static str {
        match self {
            Kind::Bool => "boolean",
            Kind::Int => "int64",
            Kind::Float => "double",
            Kind::Text | Kind::Json => "binary",
            Kind::Bytes => "binary",
            Kind::Timestamp => "int64",
        }
    }

    fn annotation(self) -> &'static str {
        match self {
            Kind::Text | Kind::Json => " (STRING)",
            Kind::Timestamp => " (TIMESTAMP(NANOS,true))",
            _ => "",
        }
    }

    /// The type as docs/parquet.md names it: parquet's physical type and annotation.
    pub fn doc_name(self) -> &'static str {
        match self {
            Kind::Bool => "BOOLEAN",
            Kind::Int => "INT64",
            Kind::Float => "DOUBLE",
            Kind::Text => "STRING",
            Kind::Json => "STRING (JSON text)",
            Kind::Bytes => "BINARY",
            Kind::Timestamp => "TIMESTAMP(NANOS, UTC)",
        }
    }
}

/// One column of a table's schema.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// The column may be null.
    pub nullable: bool,
    /// Large, mostly distinct values (payloads, mask keys): written without a dictionary
    /// (it would be abandoned after its first megabyte anyway) and without min/max
    /// statistics (no query filters on a payload's lexical order).
    pub bulky: bool,
    /// The NDJSON field it mirrors (docs/json.md), e.g. `frame.payload_len`.
    pub mirrors: &'static str,
    pub meaning: &'static str,
}

/// A column that is never null.
pub const fn required(
    name: &'static str,
    kind: Kind,
    mirrors: &'static str,
    meaning: &'static str,
) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        bulky: false,
        mirrors,
        meaning,
    }
}

/// A column that may be null.
pub const fn nullable(
    name: &'static str,
    kind: Kind,
    mirrors: &'static str,
    meaning: &'static str,
) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        bulky: false,
        mirrors,
        meaning,
    }
}

impl Column {
    /// The same column, marked [`Column::bulky`].
    pub const fn bulky(self) -> Column {
        Column {
            bulky: true,
            ..self
        }
    }
}

/// The parquet schema of a table, in the schema language `parse_message_type` reads.
fn message_type(name: &str, columns: &[Column]) -> String {
    let mut s = format!("message {name} {{\n");
    for c in columns {
        let repetition = if c.nullable { "optional" } else { "required" };
        s.push_str(&format!(
            "  {repetition} {} {}{};\n",
            c.kind.schema_type(),
            c.name,
            c.kind.annotation()
        ));
    }
    s.push('}');
    s
}

/// One value of a row, in the order of the table's columns.
#[derive(Clone, Copy, Debug)]
pub enum Cell<'a> {
    Null,
    Bool(bool),
    Int(u64),
    Float(f64),
    /// Text, JSON or bytes, as the column's kind says.
    Bytes(&'a [u8]),
    /// Nanoseconds since the Unix epoch.
    Timestamp(u64),
}

impl<'a> Cell<'a> {
    pub fn str(s: &'a str) -> Cell<'a> {
        Cell::Bytes(s.as_bytes())
    }
    pub fn opt_str(s: Option<&'a str>) -> Cell<'a> {
        s.map_or(Cell::Null, Cell::str)
    }
    pub fn opt_int(v: Option<u64>) -> Cell<'a> {
        v.map_or(Cell::Null, Cell::Int)
    }
    pub fn opt_bool(v: Option<bool>) -> Cell<'a> {
        v.map_or(Cell::Null, Cell::Bool)
    }
}

/// The buffered values of one column; nulls are only in `defined`.
enum Values {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    /// All the row group's byte strings in one buffer, and where each ends: one allocation
    /// per row group instead of one per value (allocation was a fifth of the writer's time).
    Bytes {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
}

struct ColumnBuffer {
    values: Values,
    /// Definition levels of a nullable column: 1 for a value, 0 for null.
    defined: Vec<i16>,
}

impl ColumnBuffer {
    fn new(kind: Kind) -> Self {
        let values = match kind {
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Int | Kind::Timestamp => Values::Int(Vec::new()),
            Kind::Float => Values::Float(Vec::new()),
            Kind::Text | Kind::Json | Kind::Bytes => Values::Bytes {
                data: Vec::new(),
                ends: Vec::new(),
            },
        };
        ColumnBuffer {
            values,
            defined: Vec::new(),
        }
    }

    /// Append one cell; returns the bytes it adds to the buffer, or None when the cell does
    /// not fit the column (a bug in the caller's row, reported rather than written).
    fn push(&mut self, column: &Column, cell: Cell) -> Option<usize> {
        if column.nullable {
            self.defined.push(i16::from(!matches!(cell, Cell::Null)));
        }
        // Parquet's INT64 is signed: ids and counts past 2^63 (never seen on a wire that
        // numbers packets from 1) saturate rather than wrap to negative numbers.
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        match (&mut self.values, cell) {
            (_, Cell::Null) if column.nullable => Some(2),
            (Values::Bool(v), Cell::Bool(b)) => {
                v.push(b);
                Some(1)
            }
            (Values::Int(v), Cell::Int(n) | Cell::Timestamp(n)) => {
                v.push(int(n));
                Some(8)
            }
            (Values::Float(v), Cell::Float(f)) => {
                v.push(f);
                Some(8)
            }
            (Values::Bytes { data, ends }, Cell::Bytes(b)) => {
                data.extend_from_slice(b);
                ends.push(data.len());
                Some(b.len() + 8)
            }
            _ => None,
        }
    }

    fn clear(&mut self) {
        match &mut self.values {
            Values::Bool(v) => v.clear(),
            Values::Int(v) => v.clear(),
            Values::Float(v) => v.clear(),
            Values::Bytes { data, ends } => {
                data.clear();
                ends.clear();
            }
        }
        self.defined.clear();
    }

    fn write(&self, writer: &mut SerializedColumnWriter) -> ::parquet::errors::Result<()> {
        let defined = (!self.defined.is_empty()).then_some(&self.defined[..]);
        match &self.values {
            Values::Bool(v) => writer.typed::<BoolType>().write_batch(v, defined, None),
            Values::Int(v) => writer.typed::<Int64Type>().write_batch(v, defined, None),
            Values::Float(v) => writer.typed::<DoubleType>().write_batch(v, defined, None),
            Values::Bytes { data, ends } => {
                let v = byte_arrays(data, ends);
                writer
                    .typed::<ByteArrayType>()
                    .write_batch(&v, defined, None)
            }
        }
        .map(|_| ())
    }
}

/// The values of a byte-string column as the writer takes them: slices of one shared buffer
/// (a copy of the row group's bytes, then no allocation per value).
fn byte_arrays(data: &[u8], ends: &[usize]) -> Vec<ByteArray> {
    let shared = Bytes::copy_from_slice(data);
    let mut start = 0;
    (ends.iter())
        .map(|&end| {
            let value = ByteArray::from(shared.slice(start..end));
            start = end;
            value
        })
        .collect()
}

/// A parquet file being written: its schema, the rows of the current row group, the writer.
pub struct Table {
    name: &'static str,
    columns: &'static [Column],
    buffers: Vec<ColumnBuffer>,
    rows: usize,
    bytes: usize,
    writer: SerializedFileWriter<BufWriter<File>>,
}

fn to_io(e: ::parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e)
}

impl Table {
    /// Start the file: its schema is written at the end, with the row groups' metadata.
    pub fn create(name: &'static str, columns: &'static [Column], file: File) -> io::Result<Table> {
        let schema = parse_message_type(&message_type(name, columns)).map_err(to_io)?;
        // Snappy: the codec every parquet reader has, fast to write; dictionary encoding
        // (the default) shrinks the repetitive columns (directions, opcode names, addresses).
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("wsdissect {}", env!("CARGO_PKG_VERSION")));
        for c in columns.iter().filter(|c| c.bulky) {
            props = props
                .set_column_dictionary_enabled(ColumnPath::from(c.name), false)
                .set_column_statistics_enabled(ColumnPath::from(c.name), EnabledStatistics::None);
        }
        let props = props.build();
        let writer = SerializedFileWriter::new(
            BufWriter::with_capacity(1 << 16, file),
            Arc::new(schema),
            Arc::new(props),
        )
        .map_err(to_io)?;
        Ok(Table {
            name,
            columns,
            buffers: columns.iter().map(|c| ColumnBuffer::new(c.kind)).collect(),
            rows: 0,
            bytes: 0,
            writer,
        })
    }

    /// Add one row, its cells in the order of the columns; a full row group is written out.
    pub fn push(&mut self, cells: &[Cell]) -> io::Result<()> {
        if cells.len() != self.columns.len() {
            return Err(self.mismatch(format!(
                "{} cells for {} columns",
                cells.len(),
                self.columns.len()
            )));
        }
        for ((buffer, column), cell) in self.buffers.iter_mut().zip(self.columns).zip(cells) {
            match buffer.push(column, *cell) {
                Some(n) => self.bytes += n,
                None => {
                    let why = format!("{cell:?} in column {} ({:?})", column.name, column.kind);
                    return Err(self.mismatch(why));
                }
            }
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP_ROWS || self.bytes >= ROW_GROUP_BYTES {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn mismatch(&self, why: String) -> io::Error {
        io::Error::other(format!("parquet table {}: {why}", self.name))
    }

    /// Write the buffered rows as one row group.
    fn flush_row_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(to_io)?;
        for buffer in &self.buffers {
            let mut column = group
                .next_column()
                .map_err(to_io)?
                .ok_or_else(|| io::Error::other("parquet schema has fewer columns"))?;
            buffer.write(&mut column).map_err(to_io)?;
            column.close().map_err(to_io)?;
        }
        group.close().map_err(to_io)?;
        self.buffers.iter_mut().for_each(ColumnBuffer::clear);
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Write the last row group and the footer; the file is readable from here on.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush_row_group()?;
        let mut out = self.writer.into_inner().map_err(to_io)?;
        io::Write::flush(&mut out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        required("id", Kind::Int, "", ""),
        nullable("name", Kind::Text, "", ""),
        required("ts", Kind::Timestamp, "", ""),
    ];

    #[test]
    fn schema_names_types_and_nullability() {
        let s = message_type("t", COLUMNS);
        assert!(s.contains("required int64 id;"), "{s}");
        assert!(s.contains("optional binary name (STRING);"), "{s}");
        assert!(
            s.contains("required int64 ts (TIMESTAMP(NANOS,true));"),
            "{s}"
        );
        parse_message_type(&s).unwrap();
    }

    #[test]
    fn a_cell_of_the_wrong_kind_is_an_error_not_a_panic() {
        let mut b = ColumnBuffer::new(Kind::Int);
        assert_eq!(b.push(&COLUMNS[0], Cell::Bool(true)), None);
        assert_eq!(b.push(&COLUMNS[0], Cell::Null), None);
        let mut b = ColumnBuffer::new(Kind::Text);
        assert_eq!(b.push(&COLUMNS[1], Cell::Null), Some(2));
        assert_eq!(b.defined, [0]);
    }
}
