"""Compare the parquet tables of `wsdissect --format parquet` with the NDJSON of the same capture.

    python compare.py CAPTURE.ndjson PARQUET_DIR

Reads every table with DuckDB (as a data engine would) and checks, row by row and column by
column, that it says what the NDJSON records say (docs/parquet.md: which field each column
mirrors), and that no NDJSON field of those records is missing from the tables. Prints one
line per table ("frames 123 rows") and exits 0, or prints the differences and exits 1.
Used by tests/integration/parquet.rs (scripts/test.sh group `parquet`).
"""

import base64
import json
import sys

import duckdb

# NDJSON record type -> table; connection_end is folded into its connection's row.
TABLES = {
    "connection": "connections",
    "handshake": "handshakes",
    "frame": "frames",
    "message": "messages",
    "diagnostic": "diagnostics",
}
# Columns with no NDJSON counterpart: (table, column).
EXTRA = {("diagnostics", "ts")}
# NDJSON leaves these out when 0; the tables write 0.
ZERO_WHEN_ABSENT = {("frames", "lost"), ("messages", "lost")}
TIMESTAMPS = {"ts", "end_ts"}


# Objects kept whole, as JSON text in one column.
WHOLE = {"decoded"}


def flatten(record, prefix=""):
    """Nested objects become prefixed columns (tls.sni -> tls_sni); lists stay lists."""
    out = {}
    for k, v in record.items():
        if k == "type":
            continue
        if isinstance(v, dict) and k not in WHOLE:
            out.update(flatten(v, f"{prefix}{k}_"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def expected_rows(ndjson_path):
    rows = {t: [] for t in TABLES.values()}
    open_conns = {}
    with open(ndjson_path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            kind = r["type"]
            if kind == "connection":
                open_conns[r["conn"]] = flatten(r)
            elif kind == "connection_end":
                row = open_conns.pop(r["conn"], None)
                if row is None:
                    continue
                end = flatten(r)
                for k in ("reason", "packet", "ts"):
                    row[f"end_{k}"] = end.pop(k)
                end.pop("conn")
                row.update(end)
                rows["connections"].append(row)
            elif kind in TABLES:
                rows[TABLES[kind]].append(flatten(r))
    rows["connections"].extend(open_conns.values())
    return rows


def table_rows(con, path):
    cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    # Timestamps as nanoseconds since the epoch: exact, and no time-zone module needed.
    select = ", ".join(
        f'epoch_ns("{name}") AS "{name}"' if typ.startswith("TIMESTAMP") else f'"{name}"'
        for name, typ, *_ in cols
    )
    cur = con.execute(f"SELECT {select} FROM read_parquet('{path}')")
    names = [d[0] for d in cur.description]
    types = {name: typ for name, typ, *_ in cols}
    return names, types, [dict(zip(names, row)) for row in cur.fetchall()]


def same(table, col, typ, got, want):
    if col in TIMESTAMPS and want is not None:
        return got is not None and abs(got / 1e9 - want) < 1e-6
    if isinstance(want, (list, dict)) or (typ == "VARCHAR" and isinstance(got, str) and col in JSON_COLS):
        return got is not None and json.loads(got) == want
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and want is not None and abs(got - want) < 1e-9
    return got == want


# Columns holding JSON text (lists and objects).
JSON_COLS = {"extensions", "offered_protocols", "offered_extensions", "tls_alpn_offered", "holes", "decoded"}


def compare(ndjson_path, out_dir):
    expected = expected_rows(ndjson_path)
    con = duckdb.connect()
    problems = []
    for table, want_rows in expected.items():
        names, types, got_rows = table_rows(con, f"{out_dir}/{table}.parquet")
        if table == "connections":
            want_rows = sorted(want_rows, key=lambda r: r["conn"])
            got_rows = sorted(got_rows, key=lambda r: r["conn"])
        if len(got_rows) != len(want_rows):
            problems.append(f"{table}: {len(got_rows)} rows, NDJSON has {len(want_rows)}")
            continue
        for i, (got, want) in enumerate(zip(got_rows, want_rows)):
            want = dict(want)
            if table == "messages" and "data_b64" in want:
                want["data"] = base64.b64decode(want.pop("data_b64"))
            for col in names:
                if (table, col) in EXTRA:
                    continue
                default = 0 if (table, col) in ZERO_WHEN_ABSENT else None
                w = want.pop(col, default)
                g = got[col]
                if isinstance(g, (bytes, bytearray, memoryview)):
                    g = bytes(g)
                if not same(table, col, types[col], g, w):
                    problems.append(f"{table} row {i} ({want.get('conn')}): {col} = {g!r}, NDJSON {w!r}")
            if want:
                problems.append(f"{table} row {i}: NDJSON fields with no column: {sorted(want)}")
        print(f"{table} {len(got_rows)} rows")
    for p in problems[:40]:
        print(p, file=sys.stderr)
    return not problems


if __name__ == "__main__":
    sys.exit(0 if compare(sys.argv[1], sys.argv[2]) else 1)
