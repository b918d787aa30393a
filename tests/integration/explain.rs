//! `wsdissect explain` and the teaching view say only true things (issue 12, "Errors to fix"):
//! RSV1 read by what was negotiated, `--deflate` inflating, a one-byte close, frames cut short
//! drawn with their header rules, a side per frame, and diagnostics under their own frame.

use std::process::Command;

use crate::common::{repo, wsdissect_with_stdin};

fn wsdissect(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        // Sentences unbroken, so that they can be looked for; `fits_80_columns` checks
        // the wrapping.
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn explain(hex: &str) -> String {
    let mut args = vec!["explain", "--color", "never"];
    args.extend(hex.split_whitespace());
    let (ok, out, err) = wsdissect(&args);
    assert!(ok, "explain {hex}: {err}");
    out
}

#[test]
fn rsv1_without_deflate_is_not_called_compression() {
    let out = explain("c1 05 48 65 6c 6c 6f");
    assert!(!out.contains("permessage-deflate marks"), "{out}");
    assert!(!out.contains("DEFLATE-compressed"), "{out}");
    assert!(
        out.contains(
            "RSV1   = 1    set, but no extension was negotiated to define it: it must be 0 (§5.2)"
        ),
        "{out}"
    );
    assert!(out.contains("error rsv-without-extension"), "{out}");
    // Not compressed, so the frame's text is the text.
    assert!(out.contains("   text      \"Hello\""), "{out}");
}

#[test]
fn explain_deflate_inflates_the_rfc7692_example() {
    let out = explain("--deflate c1 07 f2 48 cd c9 c9 07 00");
    assert!(
        out.contains("permessage-deflate negotiated (--deflate)"),
        "{out}"
    );
    assert!(
        out.contains("compressed (deflate negotiated, RFC 7692)"),
        "{out}"
    );
    assert!(out.contains("DEFLATE-compressed"), "{out}");
    assert!(
        out.contains("text 5 bytes (1 fragment, 7 bytes compressed on the wire → 5 inflated"),
        "{out}"
    );
    assert!(out.contains("   text      \"Hello\""), "{out}");
    assert!(!out.contains("error"), "{out}");
    // Parameters, as in a Sec-WebSocket-Extensions header (commas allowed for semicolons).
    let out = explain(
        "--deflate=server_no_context_takeover,client_max_window_bits=10 c1 07 f2 48 cd c9 c9 07 00",
    );
    assert!(out.contains("   text      \"Hello\""), "{out}");
    let (ok, _, err) = wsdissect(&["explain", "--deflate=window_bits=9", "c1", "00"]);
    assert!(
        !ok && err.contains("unknown permessage-deflate parameter"),
        "{err}"
    );
}

#[test]
fn a_one_byte_close_says_so() {
    let out = explain("88 01 03");
    assert!(out.contains("   payload   1 byte\n"), "{out}");
    assert!(!out.contains("empty payload"), "{out}");
    assert!(
        out.contains("close     payload of 1 byte: too short for the 2-byte status code"),
        "{out}"
    );
    assert!(
        out.contains("error close-payload-one-byte (RFC 6455 §5.5.1)"),
        "{out}"
    );
}

#[test]
fn frames_cut_short_are_drawn_with_their_header_rules() {
    let out = explain("82 7f 80 00 00 00 00 00 00 00 01");
    assert!(out.contains("   byte 0    1000 0010 = 0x82"), "{out}");
    assert!(
        out.contains("extended length = 9223372036854775808"),
        "{out}"
    );
    assert!(out.contains("error length-msb-set"), "{out}");
    assert!(out.contains("only 1 present"), "{out}");
    assert!(out.contains("incomplete frame at byte 0"), "{out}");

    let out = explain("09 7e 00 c8");
    assert!(
        out.contains(
            "error control-frame-too-long (RFC 6455 §5.5): ping frame with a 200-byte payload"
        ),
        "{out}"
    );
    assert!(out.contains("error control-frame-fragmented"), "{out}");

    let out = explain("82 7e 01 00");
    assert!(out.contains("stream bytes 0–3, cut short"), "{out}");
    assert!(out.contains("   byte 1    0111 1110 = 0x7e"), "{out}");
    assert!(out.contains("extended length = 256 (16-bit"), "{out}");
    assert!(
        out.contains("only 0 present: the bytes end 256 short of this frame"),
        "{out}"
    );
}

/// RFC 6455 §5.7: "Unmasked Ping request and masked Ping response".
const RFC_PING_PONG: &str = "89 05 48 65 6c 6c 6f 8a 85 37 fa 21 3d 7f 9f 4d 51 58";

#[test]
fn each_frame_has_its_own_sender() {
    // Inferred from each frame's MASK bit, and said so.
    let out = explain(RFC_PING_PONG);
    assert!(out.contains("sender inferred from the MASK bit"), "{out}");
    assert!(
        out.contains("masking is not checked on these 2 frames"),
        "{out}"
    );
    assert!(
        out.contains("frame 1 s2c (server → client), packet #1, stream bytes 0–6"),
        "{out}"
    );
    assert!(
        out.contains("frame 1 c2s (client → server), packet #1, stream bytes 7–17"),
        "{out}"
    );
    assert!(
        out.contains("pong      answers the ping with the same payload"),
        "{out}"
    );
    assert!(
        !out.contains("server-frame-masked") && !out.contains("pong-unsolicited"),
        "{out}"
    );

    // Named per frame: the other way round, both masking rules break.
    let out = explain(&format!(
        "c: {} s: {}",
        &RFC_PING_PONG[..20],
        &RFC_PING_PONG[21..]
    ));
    assert!(
        out.contains("the bytes after c: were sent by the client, after s: by the server"),
        "{out}"
    );
    assert!(out.contains("error client-frame-unmasked"), "{out}");
    assert!(out.contains("error server-frame-masked"), "{out}");
    assert!(
        out.contains("frame 1 s2c (server → client), packet #1, stream bytes 7–17"),
        "{out}"
    );

    // --from still names one side for everything unmarked.
    let out = explain(&format!("--from client {RFC_PING_PONG}"));
    assert!(out.contains("18 bytes, read as sent by a client"), "{out}");
    assert!(out.contains("error client-frame-unmasked"), "{out}");
}

/// In `-v`, every diagnostic is drawn under the frame it concerns: the frame heading above
/// it is of the same direction.
#[test]
fn verbose_draws_diagnostics_under_their_frame() {
    let (ok, out, err) = wsdissect(&[
        "-v",
        "--color",
        "never",
        "samples/violations/client-frames.pcap",
        "--conn",
        "12",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("error length-msb-set"))
        .expect(&out);
    let heading = lines[..at]
        .iter()
        .rev()
        .find(|l| l.starts_with("── conn 12 frame"))
        .expect(&out);
    assert!(
        heading.contains("frame 1 c2s (client → server), packet #156")
            && heading.ends_with("cut short"),
        "{heading}\n{out}"
    );
    // The bad frame itself is drawn: its 64-bit length with the top bit set.
    assert!(out.contains("bytes 2-9 80 00 00 00 00 00 00 05"), "{out}");
    assert!(out.contains("only 5 present"), "{out}");
}

#[test]
fn diagram_opens_every_frame_of_verbose_and_needs_it() {
    let capture = "samples/chromium-echo.pcapng";
    let (ok, out, err) = wsdissect(&["-v", "--diagram", "--color", "never", capture]);
    assert!(ok, "{err}");
    // Frame headings, not the handshake's (`── conn 1 handshake request …`).
    let frames = (out.lines())
        .filter(|l| l.starts_with("── conn ") && l.contains(" frame "))
        .count();
    let boxes = (out.lines())
        .filter(|l| l.starts_with("    0 1 2 3 4 5 6 7 8 9 0 1"))
        .count();
    assert!(
        frames > 0 && boxes == frames,
        "{frames} frames, {boxes} boxes"
    );
    let (ok, _, err) = wsdissect(&["--diagram", capture]);
    assert!(!ok && err.contains("--explain"), "{err}");
}

/// Runs `wsdissect explain` with `input` on standard input, sentences unbroken.
fn explain_stdin(input: &str) -> (Option<i32>, String, String) {
    wsdissect_with_stdin(&["explain", "--color", "never"], input, Some("1000"))
}

#[test]
fn explain_reads_what_people_paste() {
    // Python bytes literals, with a side each: the RFC's ping and its masked pong.
    let (ok, out, err) = wsdissect(&[
        "explain",
        "--color",
        "never",
        r"s: b'\x89\x05Hello' c: b'\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(
            "18 bytes from a Python bytes literal, the bytes after c: were sent by the client"
        ),
        "{out}"
    );
    assert!(!out.contains("error"), "{out}");
    assert!(out.contains("\"Hello\""), "{out}");

    // Wireshark's "Copy as Hex Dump", text column and all, on standard input.
    let dump = "0000   81 05 48 65 6c 6c 6f                              ..Hello\n";
    let (code, out, err) = explain_stdin(dump);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("7 bytes from a Wireshark hex dump, "),
        "{out}"
    );
    assert!(out.contains("   text      \"Hello\""), "{out}");

    // A C array and an xxd dump read the same bytes.
    for (input, name) in [
        (
            "unsigned char f[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};",
            "a C array",
        ),
        (
            "00000000: 8105 4865 6c6c 6f                        ..Hello\n",
            "an xxd dump",
        ),
    ] {
        let (code, out, err) = explain_stdin(input);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.starts_with(&format!("7 bytes from {name}, ")), "{out}");
        assert!(out.contains("   text      \"Hello\""), "{out}");
    }

    // Plain hex still says nothing about its format.
    assert!(explain("81 05 48 65 6c 6c 6f").starts_with("7 bytes, sender inferred"));

    // Something unparseable: exit 2, and where it is.
    let (code, out, err) = explain_stdin("b'\\x81\\x05Hel\nlo'");
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(
        err,
        "wsdissect: this bytes literal is never closed on its line, at line 1, column 1: \"b'\\\\x81\\\\x05Hel\"\n"
    );
}

/// How many lines of `out` start with `prefix` once their leading spaces are dropped.
fn count_lines(out: &str, prefix: &str) -> usize {
    out.lines()
        .filter(|l| l.trim_start().starts_with(prefix))
        .count()
}

#[test]
fn each_misconception_note_appears_once_where_it_applies() {
    // Two masked client frames, each a text "Hello": the masking notes come once, at the
    // first; the length and control notes not at all.
    let frame = "81 85 37 fa 21 3d 7f 9f 4d 51 58";
    let out = explain(&format!("c: {frame} c: {frame}"));
    assert_eq!(
        count_lines(&out, "note      masking is not encryption"),
        1,
        "{out}"
    );
    assert_eq!(count_lines(&out, "note      only clients mask"), 1, "{out}");
    assert!(out.contains("poison an intermediary's"), "{out}");
    assert!(out.contains("(§10.3)"), "{out}");
    let first = out.find("frame 2 c2s").unwrap();
    assert!(
        out.find("masking is not encryption").unwrap() < first,
        "{out}"
    );
    assert_eq!(count_lines(&out, "note      126 and 127"), 0, "{out}");
    assert_eq!(count_lines(&out, "note      control frames"), 0, "{out}");

    // An unmasked server frame with a 16-bit length, a ping, another of each, a masked
    // client frame: every note once, at the first frame it applies to.
    let big = format!("82 7e 00 7e {}", vec!["00"; 126].join(" "));
    let out = explain(&format!(
        "s: {big} s: 89 00 s: {big} s: 89 00 c: 81 85 37 fa 21 3d 7f 9f 4d 51 58"
    ));
    for note in [
        "note      masking is not encryption",
        "note      only clients mask",
        "note      126 and 127 are markers, not lengths",
        "note      control frames (close, ping, pong) cannot be fragmented",
    ] {
        assert_eq!(count_lines(&out, note), 1, "{note}\n{out}");
    }
    let at = |s: &str| out.find(s).unwrap();
    assert!(at("only clients mask") < at("frame 2 s2c"), "{out}");
    assert!(at("126 and 127") < at("frame 2 s2c"), "{out}");
    assert!(at("frame 2 s2c") < at("control frames (close"), "{out}");
    assert!(at("control frames (close") < at("frame 3 s2c"), "{out}");
    assert!(at("frame 1 c2s") < at("masking is not encryption"), "{out}");
    // Within 80 columns.
    for line in out.lines().filter(|l| l.contains("note ")) {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

#[test]
fn a_fragmented_message_is_listed_when_it_ends() {
    let (ok, out, err) = wsdissect(&["-v", "--color", "never", "samples/node-fragments.pcap"]);
    assert!(ok, "{err}");
    assert_eq!(
        count_lines(
            &out,
            "fragments 3 frames, packet(payload bytes): #8(13) #9(14) #13(20)"
        ),
        1,
        "{out}"
    );
    // Open until FIN=1: the first two fragments wait, the ping between them says where it is.
    assert!(
        out.contains("message   fragment 1 of a text message: waiting for FIN=1 (§5.4)"),
        "{out}"
    );
    assert!(
        out.contains("message   fragment 2 of a text message: waiting for FIN=1 (§5.4)"),
        "{out}"
    );
    assert!(
        out.contains("message   between fragments 2 and 3 of the open text message"),
        "{out}"
    );
    assert!(
        out.contains("message   fragment 3 of a text message: FIN=1, the message ends"),
        "{out}"
    );
    // Only the messages of several frames have a list: this one and a 4-fragment one.
    assert!(
        out.contains("fragments 4 frames, packet(payload bytes): #18(200) #20(126) #24(0) #25(70)"),
        "{out}"
    );
    assert_eq!(count_lines(&out, "fragments "), 2, "{out}");

    // In explain every frame is in packet #1: the frames are numbered instead.
    let frame = "37 fa 21 3d 7f 9f 4d 51 58";
    let out = explain(&format!(
        "c: 01 85 {frame} c: 89 80 37 fa 21 3d c: 80 85 {frame}"
    ));
    assert!(
        out.contains("fragments 2 frames, frame(payload bytes): 1(5) 3(5)"),
        "{out}"
    );
}

/// Without a terminal, `explain`, `-v`, `accept` and the conversation view keep within 80
/// columns (COLUMNS unset), however long the payload: the RFC's 64 KiB frame is drawn in a
/// screenful or two, with a count.
#[test]
fn fits_80_columns() {
    let frame = format!("82 7f 00 00 00 00 00 01 00 00 {}", "41 ".repeat(65536));
    let explain = run_with_stdin(&["explain", "--color", "never"], &frame, false);
    let verbose = run_with_stdin(
        &[
            "-v",
            "--color",
            "never",
            "samples/violations/client-frames.pcap",
        ],
        "",
        false,
    );
    let accept = run_with_stdin(&["accept", "dGhlIHNhbXBsZSBub25jZQ=="], "", false);
    assert!(accept.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{accept}");
    let conversation = run_with_stdin(
        &["--format", "conversation", "samples/node-deflate.pcap"],
        "",
        false,
    );
    for out in [&explain, &verbose, &accept, &conversation] {
        for line in out.lines() {
            let n = line.chars().count();
            assert!(n <= 80, "{n} columns: {line}");
        }
    }
    assert!(explain.lines().count() < 200, "{explain}");
    assert!(
        explain.contains("… 65280 more bytes not shown"),
        "{explain}"
    );
    // --max-payload and --full-payload say how much is drawn.
    let out = run_with_stdin(&["explain", "--max-payload", "4"], &frame, true);
    assert!(out.contains("… 65532 more bytes not shown"), "{out}");
    let out = run_with_stdin(&["explain", "--full-payload"], &frame, true);
    assert!(!out.contains("more bytes not shown"), "{}", &out[..2000]);
    assert!(out.contains("+65520"), "{}", &out[..2000]);
}

/// Standard output of wsdissect run with `args` and `input` on standard input, in 80 columns
/// or (`wide`) with lines unbroken.
fn run_with_stdin(args: &[&str], input: &str, wide: bool) -> String {
    let (code, out, err) = wsdissect_with_stdin(args, input, wide.then_some("1000"));
    assert_eq!(code, Some(0), "{args:?}: {err}");
    out
}

/// `--no-notes` leaves out the notes against misconceptions, in `explain` and in `-v`, and
/// nothing else (docs/frame-format.md shows them once, not in every example).
#[test]
fn no_notes_leaves_out_only_the_notes() {
    let with = explain("81 85 37 fa 21 3d 7f 9f 4d 51 58");
    let without = explain("--no-notes 81 85 37 fa 21 3d 7f 9f 4d 51 58");
    assert!(
        with.contains("   note      masking is not encryption"),
        "{with}"
    );
    assert!(!without.contains("note "), "{without}");
    let notes = with.lines().count() - without.lines().count();
    assert_eq!(notes, 7, "two notes of 4 and 3 lines");
    // Every other line is kept, in order.
    let mut rest = with.lines();
    for line in without.lines() {
        assert!(rest.any(|l| l == line), "{line} lost");
    }
    let capture = "samples/py-echo.pcap";
    let (ok, out, err) = wsdissect(&["-v", "--no-notes", "--color", "never", capture]);
    assert!(ok, "{err}");
    assert!(!out.contains("   note "), "{out}");
    let (ok, _, err) = wsdissect(&["--no-notes", capture]);
    assert!(!ok && err.contains("--explain"), "{err}");
}

/// A message kept in part (`--max-payload`) may end inside a character: the teaching view
/// shows the text up to it, and counts the rest.
#[test]
fn a_text_kept_in_part_is_shown_up_to_its_last_whole_character() {
    let (ok, out, err) = wsdissect(&[
        "-v",
        "--color",
        "never",
        "--max-payload",
        "27", // inside the 4-byte emoji at bytes 25-28
        "samples/node-fragments.pcap",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("   text      \"Hello, fragménted world \" …(+22 bytes)"),
        "{out}"
    );
}
