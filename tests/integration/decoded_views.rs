//! The views of decoded messages (docs/decoders.md), on events whose `decoded` is set by hand:
//! what every view does with units, answers and keep-alives, whatever decoder made them. The
//! decoders' own captures are checked in `decode_*.rs` and snapshotted in `apps_views`.

use wsdissect::base::Direction;
use wsdissect::conversation::{dissect_raw_frames, DissectConfig};
use wsdissect::decode::{Answer, Decoded, Protocol, Unit};
use wsdissect::event::Event;
use wsdissect::output::annotate::{AnnotateOptions, AnnotateSink};
use wsdissect::output::conversation_view::{ConversationOptions, ConversationSink};
use wsdissect::output::json::JsonSink;
use wsdissect::output::style::Style;
use wsdissect::output::table::{TableOptions, TableSink};
use wsdissect::output::text::{TextOptions, TextSink};
use wsdissect::output::Sink;

/// An unmasked text frame (a server's) carrying `payload`.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x81, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// A masked text frame (a client's), key 00 00 00 00 so the payload reads as it is.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

fn unit(kind: &str, summary: &str, key: Option<&str>) -> Unit {
    let mut u = Unit::new(kind, summary);
    u.key = key.map(str::to_string);
    u
}

/// A Socket.IO-like session: two events, an ack answering the first, three ping/pong pairs
/// (keep-alives), and an event whose name holds a terminal escape.
fn events() -> Vec<Event> {
    let c2s = Direction::ClientToServer;
    let s2c = Direction::ServerToClient;
    let frames: Vec<(Direction, Vec<u8>)> = vec![
        (c2s, client_frame(b"420[\"chat\",\"hi\"]")),
        (s2c, text_frame(b"430[\"ok\"]")),
        (s2c, text_frame(b"2")),
        (c2s, client_frame(b"3")),
        (s2c, text_frame(b"2")),
        (c2s, client_frame(b"3")),
        (c2s, client_frame(b"42[\"chat\",\"again\"]")),
        (c2s, client_frame(b"42[\"\x1b[2Jx\"]")),
    ];
    let pieces: Vec<(Direction, &[u8])> = frames.iter().map(|(d, f)| (*d, &f[..])).collect();
    let mut events = dissect_raw_frames(&pieces, None, DissectConfig::default()).events;
    let mut pings = 0;
    for e in &mut events {
        let Event::Message(m) = e else { continue };
        let text = m.text().unwrap_or_default().to_string();
        let u = match text.as_str() {
            "420[\"chat\",\"hi\"]" => unit("EVENT", "/ \"chat\" [\"hi\"] id 0", Some("chat")),
            "430[\"ok\"]" => {
                let mut u = unit("ACK", "/ [\"ok\"] id 0", None);
                u.answers = Some(Answer {
                    id: "0".into(),
                    dir: c2s,
                    message: 1,
                    rtt_ns: 2_500_000,
                });
                u
            }
            "2" => {
                pings += 1;
                let mut u = unit("ping", "", None);
                u.heartbeat = true;
                u
            }
            "3" => {
                let mut u = unit("pong", "", None);
                u.heartbeat = true;
                u.answers = Some(Answer {
                    id: String::new(),
                    dir: s2c,
                    message: pings,
                    rtt_ns: 1_000_000 * pings,
                });
                u
            }
            "42[\"chat\",\"again\"]" => unit("EVENT", "/ \"chat\" [\"again\"]", Some("chat")),
            _ => unit("EVENT", &format!("/ {text:?}"), Some("\x1b[2Jx")),
        };
        m.decoded = Some(Box::new(Decoded {
            protocol: Protocol::SocketIo,
            units: vec![u],
        }));
    }
    events
}

fn render(sink: &mut dyn Sink, events: &[Event]) {
    for e in events {
        sink.event(e).unwrap();
    }
    sink.finish().unwrap();
}

fn text_view() -> String {
    let mut out = Vec::new();
    let opts = TextOptions {
        width: 80,
        ..TextOptions::default()
    };
    render(&mut TextSink::new(&mut out, opts), &events());
    String::from_utf8(out).unwrap()
}

#[test]
fn the_default_view_shows_a_line_per_unit_and_counts_keep_alives() {
    let out = text_view();
    assert!(
        out.contains("↳ socket.io EVENT / \"chat\" [\"hi\"] id 0"),
        "{out}"
    );
    assert!(
        out.contains("↳ socket.io ACK / [\"ok\"] id 0  ↩ c2s #1 2.500 ms"),
        "{out}"
    );
    // The first keep-alive is shown, the others counted at the session's end.
    assert_eq!(out.matches("↳ socket.io ping").count(), 1, "{out}");
    assert_eq!(out.matches("↳ socket.io pong").count(), 1, "{out}");
    // The count line wraps at the width: read it with its lines joined.
    let joined = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let count = "socket.io keep-alives: 4 (2 answered, rtt avg 1.500 ms, max 2.000 ms)";
    assert!(joined.contains(count), "{out}");
    assert!(
        !out.contains('\x1b'),
        "an escape reached the terminal: {out}"
    );
    for l in out.lines() {
        assert!(l.chars().count() <= 80, "over 80 columns: {l}");
    }
}

#[test]
fn ndjson_carries_the_decoded_units() {
    let mut out = Vec::new();
    render(&mut JsonSink::new(&mut out, false), &events());
    let text = String::from_utf8(out).unwrap();
    let decoded: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "message")
        .map(|v| v["decoded"].clone())
        .collect();
    assert_eq!(decoded.len(), 8);
    assert_eq!(decoded[0]["protocol"], "socket.io");
    assert_eq!(decoded[0]["units"][0]["kind"], "EVENT");
    assert_eq!(decoded[0]["units"][0]["key"], "chat");
    let ack = &decoded[1]["units"][0];
    assert_eq!(ack["answers"]["dir"], "c2s");
    assert_eq!(ack["answers"]["message"], 1);
    assert_eq!(ack["answers"]["rtt_ms"], 2.5);
    assert_eq!(decoded[2]["units"][0]["heartbeat"], true);
    assert!(!text.contains('\x1b'));
}

#[test]
fn the_table_counts_keys_and_answer_times() {
    let mut out = Vec::new();
    let opts = TableOptions {
        width: Some(80),
        ..TableOptions::default()
    };
    render(&mut TableSink::new(&mut out, opts), &events());
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("Decoded socket.io"), "{out}");
    assert!(
        out.contains("8 messages decoded, 8 packets, 4 keep-alives"),
        "{out}"
    );
    let chat = out.lines().find(|l| l.contains(" chat ")).unwrap();
    let cells: Vec<&str> = chat.split('┆').map(str::trim).collect();
    assert_eq!(cells[1..], ["2", "0", "2 │"], "{chat}");
    let ack = out.lines().find(|l| l.contains(" ACK ")).unwrap();
    assert!(ack.contains("2.500"), "{ack}");
    let pong = out.lines().find(|l| l.contains(" pong ")).unwrap();
    assert!(pong.contains("1.000") && pong.contains("2.000"), "{pong}");
    assert!(!out.contains('\x1b'));
}

#[test]
fn the_conversation_and_teaching_views_show_the_decoded_form() {
    let mut out = Vec::new();
    let opts = ConversationOptions {
        width: 80,
        ..ConversationOptions::default()
    };
    render(&mut ConversationSink::new(&mut out, opts), &events());
    let conv = String::from_utf8(out).unwrap();
    assert!(
        conv.contains("    ↳ socket.io EVENT / \"chat\" [\"hi\"] id 0"),
        "{conv}"
    );
    // The decoded form stands for the payload.
    assert!(!conv.contains("\"420["), "{conv}");
    let mut out = Vec::new();
    let opts = AnnotateOptions {
        payload_bytes: 256,
        style: Style::default(),
        diagram: false,
        width: 80,
    };
    render(&mut AnnotateSink::new(&mut out, opts), &events());
    let v = String::from_utf8(out).unwrap();
    assert!(
        v.contains("↳ socket.io ACK / [\"ok\"] id 0  ↩ c2s #1 2.500 ms"),
        "{v}"
    );
    assert!(!conv.contains('\x1b') && !v.contains('\x1b'));
}

/// The table keeps and shows only a key's start: a megabyte topic or method neither fills the
/// memory nor takes comfy-table's quadratic wrapping (a review's 200 KB keys took 40 s).
#[test]
fn the_table_cuts_long_keys() {
    let mut events = events();
    for e in &mut events {
        if let Event::Message(m) = e {
            if let Some(d) = m.decoded.as_deref_mut() {
                d.units[0].key = Some("k".repeat(200_000));
            }
        }
    }
    let mut out = Vec::new();
    let opts = TableOptions {
        width: Some(80),
        ..TableOptions::default()
    };
    let started = std::time::Instant::now();
    render(&mut TableSink::new(&mut out, opts), &events);
    let out = String::from_utf8(out).unwrap();
    assert!(out.len() < 20_000, "{} bytes of table", out.len());
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

/// Recognisers read a session's first messages whole (up to 4 KiB) whatever `--max-payload`
/// keeps for the views: the JSON-RPC sample decodes the same with `--max-payload 8`.
#[test]
fn recognition_does_not_depend_on_max_payload() {
    let run = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.push("samples/apps/jsonrpc/jsonrpc.pcap");
        (crate::common::ndjson_records(&args).iter())
            .filter(|v| v["type"] == "message")
            .map(|v| v["decoded"].to_string())
            .collect::<Vec<_>>()
    };
    let usual = run(&[]);
    assert!(
        usual.iter().filter(|d| *d != "null").count() >= 10,
        "{usual:?}"
    );
    assert_eq!(run(&["--max-payload", "8"]), usual);
}
