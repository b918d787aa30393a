//! Every rule wsdissect checks, as data: a stable name, a severity and the RFC section.
//!
//! Rules are never errors: a broken rule becomes a `Diagnostic` event and dissection goes on.

use std::fmt;

use super::{ConnId, Direction, PacketRef, StreamId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable, kebab-case; part of the JSON contract.
    pub name: &'static str,
    pub severity: Severity,
    /// e.g. "RFC 6455 §5.1".
    pub section: &'static str,
    pub summary: &'static str,
}

macro_rules! rules {
    ($($id:ident = $name:literal, $sev:ident, $sec:literal, $summary:literal;)*) => {
        $(pub static $id: Rule = Rule { name: $name, severity: Severity::$sev, section: $sec, summary: $summary };)*
        /// Every rule, for documentation and `--list-rules`.
        pub static ALL: &[&Rule] = &[$(&$id),*];
    };
}

rules! {
    // Frames (RFC 6455 §5)
    CLIENT_FRAME_UNMASKED = "client-frame-unmasked", Error, "RFC 6455 §5.1", "a client must mask every frame it sends";
    SERVER_FRAME_MASKED = "server-frame-masked", Error, "RFC 6455 §5.1", "a server must not mask frames it sends";
    RSV_BIT_WITHOUT_EXTENSION = "rsv-without-extension", Error, "RFC 6455 §5.2", "RSV1-3 must be 0 unless a negotiated extension defines them";
    RESERVED_OPCODE = "reserved-opcode", Error, "RFC 6455 §5.2", "opcodes 0x3-0x7 and 0xB-0xF are reserved";
    LENGTH_MSB_SET = "length-msb-set", Error, "RFC 6455 §5.2", "the most significant bit of a 64-bit length must be 0";
    LENGTH_NOT_MINIMAL = "length-not-minimal", Error, "RFC 6455 §5.2", "the minimal number of bytes must be used to encode the length";
    CONTROL_FRAME_TOO_LONG = "control-frame-too-long", Error, "RFC 6455 §5.5", "control frames must have a payload of 125 bytes or less";
    CONTROL_FRAME_FRAGMENTED = "control-frame-fragmented", Error, "RFC 6455 §5.5", "control frames must not be fragmented";
    CONTINUATION_WITHOUT_START = "continuation-without-start", Error, "RFC 6455 §5.4", "a continuation frame needs a fragmented message in progress";
    NEW_MESSAGE_WHILE_FRAGMENTED = "new-message-while-fragmented", Error, "RFC 6455 §5.4", "a new text/binary frame arrived before the fragmented message ended";
    INVALID_UTF8_TEXT = "invalid-utf8-text", Error, "RFC 6455 §5.6, §8.1", "text messages must be valid UTF-8";
    INVALID_UTF8_CLOSE_REASON = "invalid-utf8-close-reason", Error, "RFC 6455 §5.5.1", "the close reason must be valid UTF-8";
    CLOSE_PAYLOAD_ONE_BYTE = "close-payload-one-byte", Error, "RFC 6455 §5.5.1", "a close payload is empty or starts with a 2-byte code";
    CLOSE_CODE_NOT_ON_WIRE = "close-code-not-on-wire", Error, "RFC 6455 §7.4.1", "close codes 1004, 1005, 1006 and 1015 must not be sent";
    CLOSE_CODE_INVALID = "close-code-invalid", Error, "RFC 6455 §7.4.2", "close codes 0-999 and unassigned 1016-2999 must not be used";
    DATA_AFTER_CLOSE = "data-after-close", Error, "RFC 6455 §5.5.1", "no data frames may follow a close frame in the same direction";
    PONG_UNSOLICITED = "pong-unsolicited", Info, "RFC 6455 §5.5.3", "a pong with no matching ping (allowed: a unidirectional heartbeat)";
    // permessage-deflate (RFC 7692)
    DEFLATE_RSV1_MISPLACED = "deflate-rsv1-misplaced", Error, "RFC 7692 §6.1", "RSV1 may only be set on the first frame of a data message, never on continuation or control frames";
    DEFLATE_ERROR = "deflate-error", Error, "RFC 7692 §7.2.2", "a compressed message does not inflate";
    DEFLATE_CONTEXT_UNKNOWN = "deflate-context-unknown", Warning, "RFC 7692 §7.2.2", "the compression window is unknown (earlier data missing), so this message cannot be inflated";
    INFLATE_BUDGET = "inflate-budget", Warning, "wsdissect", "a session's compressed messages inflated past --max-inflate-total together; later ones are not inflated";
    INFLATE_LIMIT = "inflate-limit", Warning, "wsdissect", "a message inflated past --max-inflate (a deflate bomb?); inflation stopped";
    // Handshake (RFC 6455 §4)
    HANDSHAKE_ACCEPT_MISMATCH = "handshake-accept-mismatch", Error, "RFC 6455 §4.2.2", "Sec-WebSocket-Accept must be base64(SHA-1(key + GUID))";
    HANDSHAKE_ACCEPT_MISSING = "handshake-accept-missing", Error, "RFC 6455 §4.2.2", "a 101 response must carry Sec-WebSocket-Accept";
    HANDSHAKE_KEY_INVALID = "handshake-key-invalid", Error, "RFC 6455 §4.1", "Sec-WebSocket-Key must be base64 of 16 bytes";
    HANDSHAKE_VERSION = "handshake-version", Error, "RFC 6455 §4.1", "Sec-WebSocket-Version must be 13";
    HANDSHAKE_NOT_GET = "handshake-not-get", Error, "RFC 6455 §4.1", "the opening handshake must be a GET request";
    HANDSHAKE_HOST_MISSING = "handshake-host-missing", Warning, "RFC 6455 §4.1", "the opening handshake must carry a Host header";
    HANDSHAKE_UPGRADE_HEADERS = "handshake-upgrade-headers", Error, "RFC 6455 §4.2.2", "a 101 response must carry Upgrade: websocket and Connection: Upgrade";
    HANDSHAKE_SUBPROTOCOL_NOT_OFFERED = "handshake-subprotocol-not-offered", Error, "RFC 6455 §4.2.2", "the server selected a subprotocol the client did not offer";
    HANDSHAKE_EXTENSION_NOT_OFFERED = "handshake-extension-not-offered", Error, "RFC 6455 §4.2.2", "the server accepted an extension the client did not offer";
    HANDSHAKE_REJECTED = "handshake-rejected", Info, "RFC 6455 §4.2.2", "the server answered the upgrade with a status other than 101";
    HANDSHAKE_NO_RESPONSE = "handshake-no-response", Warning, "RFC 6455 §4.1", "the upgrade request got no response before the connection or capture ended";
    HANDSHAKE_MALFORMED = "handshake-malformed", Error, "RFC 7230 §3", "the HTTP upgrade request or response could not be parsed";
    HANDSHAKE_REQUEST_NOT_UPGRADE = "handshake-request-not-upgrade", Error, "RFC 6455 §4.1", "a 101 answered a request without Upgrade: websocket and Connection: Upgrade (the session is followed all the same)";
    HANDSHAKE_REQUEST_MISSING = "handshake-request-missing", Warning, "capture", "the upgrade request is missing from the capture; the session is taken from the 101 that answered it";
    HANDSHAKE_RESPONSE_MISSING = "handshake-response-missing", Warning, "capture", "the answer to the upgrade request is missing from the capture, but frames follow: the session is taken as open, its extensions unknown";
    // HTTP/1.1 around the upgrade (RFC 9112)
    HTTP_EXCHANGE = "http-exchange", Info, "RFC 9112 §9.3", "the connection carried other HTTP before its WebSocket session: an earlier exchange (keep-alive, a refused upgrade) or an interim 1xx response";
    HTTP_LEADING_EMPTY_LINE = "http-leading-empty-line", Info, "RFC 9112 §2.2", "empty lines came before the request line; servers skip them";
    HTTP_MANY_HEADERS = "http-many-headers", Info, "wsdissect", "a head with more than 128 header lines (read whole: heads are bounded by size, 64 KiB)";
    HTTP_TARGET_CONTROL_BYTES = "http-target-control-bytes", Warning, "RFC 9112 §3.2", "the request target holds control bytes, which a URI may not; some servers accept it";
    HTTP_REQUEST_LINE_SPACES = "http-request-line-spaces", Warning, "RFC 9112 §3", "more than one space separates the parts of the request line; some servers accept it";
    // TLS (wss): decryption with a key log
    TLS_NO_KEY = "tls-no-key", Warning, "RFC 8446 / RFC 5246", "the connection is TLS and the key log has no secret for it: it cannot be decrypted";
    TLS_UNSUPPORTED_CIPHER = "tls-unsupported-cipher", Warning, "wsdissect", "the cipher suite chosen is not one wsdissect can decrypt";
    TLS_DECRYPT_FAILED = "tls-decrypt-failed", Error, "RFC 8446 §5.2", "a record does not authenticate with the key log's secret (a wrong key, or damaged bytes); that side is not decrypted further";
    TLS_RECORDS_LOST = "tls-records-lost", Warning, "capture", "TLS records are missing from the capture; decryption resumes at the next record that authenticates";
    TLS_ALERT = "tls-alert", Warning, "RFC 8446 §6", "a TLS alert";
    TLS_KEYLOG_MALFORMED = "tls-keylog-malformed", Warning, "NSS key log format", "a line of the TLS key log could not be read; it is skipped";
    TLS_CLOSE_NOTIFY = "tls-close-notify", Info, "RFC 8446 §6.1", "the sender will send no more TLS records (close_notify)";
    // WebSocket over HTTP/2 (RFC 8441) and the HTTP/2 that carries it (RFC 9113)
    H2_CONNECT_NOT_ENABLED = "h2-connect-not-enabled", Error, "RFC 8441 §4", "an extended CONNECT was sent before the server enabled it with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1";
    H2_PROTOCOL_NOT_CONNECT = "h2-protocol-not-connect", Error, "RFC 8441 §4", ":protocol may only be sent with the CONNECT method";
    H2_CONNECT_INCOMPLETE = "h2-connect-incomplete", Error, "RFC 8441 §4", "an extended CONNECT must carry :scheme, :path and :authority";
    H2_WEBSOCKET_KEY_SENT = "h2-websocket-key-sent", Warning, "RFC 8441 §5", "Sec-WebSocket-Key and Sec-WebSocket-Accept are not used over HTTP/2; :protocol replaces them";
    H2_DATA_AFTER_REFUSAL = "h2-data-after-refusal", Warning, "RFC 8441 §5, RFC 9110 §9.3.6", "DATA on an extended CONNECT stream the server refused (non-2xx): no tunnel was opened";
    H2_DATA_AFTER_END_STREAM = "h2-data-after-end-stream", Error, "RFC 9113 §5.1", "no DATA may follow END_STREAM (or RST_STREAM) on a stream; the receiver discards it";
    H2_PREFACE_INVALID = "h2-preface-invalid", Error, "RFC 9113 §3.4", "the client's connection preface is not PRI * HTTP/2.0";
    H2_MALFORMED = "h2-malformed", Error, "RFC 9113 §6", "an HTTP/2 frame does not have the shape its type requires";
    H2_FIELD_BLOCK_UNDECODABLE = "h2-field-block-undecodable", Warning, "RFC 7541", "a field block could not be decoded; the stream's headers are unknown";
    H2_FRAME_TOO_LARGE = "h2-frame-too-large", Warning, "wsdissect", "a frame other than DATA over 1 MiB was skipped";
    H2_STREAMS_LIMIT = "h2-streams-limit", Warning, "wsdissect", "more streams were open at once than wsdissect follows (4096): new ones are not followed";
    H2_GOAWAY_ERROR = "h2-goaway-error", Warning, "RFC 9113 §6.8", "the connection is being shut down with an error code (GOAWAY)";
    // Capture and transport
    STREAM_GAP = "stream-gap", Warning, "capture", "bytes of the TCP stream are missing from the capture";
    STREAM_OVERLAP_CONFLICT = "stream-overlap-conflict", Warning, "RFC 9293 §3.10.7.4", "overlapping TCP segments carry different bytes (the copy the receiver took is kept: the first, unless it had a bad checksum or too low a TTL)";
    TCP_CONTROL_IGNORED = "tcp-control-ignored", Warning, "RFC 5961 §3-4, RFC 9293 §3.10.7", "a SYN, RST or FIN the receiver did not take (bad checksum, TTL too low, sequence number not plausible): the connection goes on";
    TCP_DATA_AFTER_FIN = "tcp-data-after-fin", Warning, "RFC 9293 §3.10.7.4", "data after the sender's FIN: the receiver does not deliver it";
    TCP_URGENT_BYTE = "tcp-urgent-byte", Info, "RFC 9293 §3.8.5, RFC 6093", "the byte at the urgent pointer is taken out of the stream, as Linux does without SO_OOBINLINE";
    TCP_SYN_DATA_DROPPED = "tcp-syn-data-dropped", Info, "RFC 7413 §4.2.2", "data on a SYN without a Fast Open cookie: the receiver drops it (the sender sends it again)";
    STREAM_DESYNC = "stream-desync", Warning, "capture", "frame boundaries were lost in a gap; bytes are skipped until the next plausible frame";
    STREAM_RESYNC = "stream-resync", Info, "capture", "frame boundaries were found again; the bytes before them could not be framed";
    INFERRED_WEBSOCKET = "inferred-websocket", Info, "capture", "no handshake was seen; the connection is taken as WebSocket from its frames or --ws-port";
    FRAME_INCOMPLETE = "frame-incomplete", Warning, "capture", "the connection or capture ended in the middle of a frame";
    PAYLOAD_LIMIT = "payload-limit", Info, "wsdissect", "a payload was larger than the memory limit; only its start is kept";
    PACKET_CUT_SHORT = "packet-cut-short", Warning, "capture", "packets were cut short by the capture's snapshot length; their missing tails are gaps in their streams";
    PACKET_SKIPPED = "packet-skipped", Info, "capture", "a packet could not be decoded as TCP over IP and was skipped";
    // IP fragment reassembly (net::frag), following the Linux kernel
    IP_FRAG_OVERLAP = "ip-frag-overlap", Warning, "RFC 5722", "an IP fragment overlaps another of its datagram: the whole datagram is dropped, as Linux does for IPv4 and IPv6";
    IP_FRAG_TIMEOUT = "ip-frag-timeout", Warning, "RFC 791 / RFC 8200 §4.5", "a fragmented IP datagram was still incomplete when its reassembly time ran out (Linux: 30 s IPv4, 60 s IPv6) or the capture ended; its fragments are dropped";
    IP_FRAG_TOO_BIG = "ip-frag-too-big", Warning, "RFC 791 / RFC 8200 §4.5", "IP fragments reach past the 65,535-byte maximum datagram: dropped";
    IP_FRAG_INVALID = "ip-frag-invalid", Warning, "RFC 791 / RFC 8200 §4.5", "an IP fragment is empty, disagrees with the datagram's final length, or (IPv6) is not a multiple of 8 bytes before the last: dropped as Linux does";
    IP_FRAG_LIMIT = "ip-frag-limit", Warning, "wsdissect", "IP fragments were dropped because the reassembly limits (datagrams, bytes or fragments in progress) were reached";
    // What the messages carry (decode/): one block per protocol, so each decoder adds its own
    // Socket.IO / Engine.IO (decode/socketio.rs)
    SOCKETIO_MALFORMED = "socketio-malformed", Warning, "Socket.IO protocol v5, Engine.IO protocol v4", "a message of a Socket.IO session is not a valid Engine.IO or Socket.IO packet; it is shown raw";
    SOCKETIO_ATTACHMENT_MISSING = "socketio-attachment-missing", Warning, "Socket.IO protocol v5", "a BINARY_EVENT or BINARY_ACK announced more attachments than the binary messages that followed it in its direction before the next Socket.IO packet; the receiver's parser fails";
    // MQTT (decode/mqtt.rs)
    MQTT_MALFORMED = "mqtt-malformed", Error, "MQTT 3.1.1 §2, MQTT 5.0 §2", "bytes of an MQTT session are not a valid MQTT control packet; the rest of the message is shown raw";
    MQTT_TEXT_MESSAGE = "mqtt-text-message", Error, "MQTT 3.1.1 §6, MQTT 5.0 §6", "MQTT control packets must be sent in binary messages; a text message is shown raw";
    MQTT_PACKET_TOO_LONG = "mqtt-packet-too-long", Warning, "wsdissect", "a packet spanning messages is longer than the 1 MiB carried across messages: it is skipped by its length";
    MQTT_TOPIC_ALIAS_UNKNOWN = "mqtt-topic-alias-unknown", Error, "MQTT 5.0 §3.3.2.3.4", "a PUBLISH with an empty topic uses a topic alias its sender never set";
    MQTT_VERSION_INFERRED = "mqtt-version-inferred", Info, "MQTT 3.1.1 §3.1.2.2, MQTT 5.0 §3.1.2.2", "no CONNECT seen: the protocol version is inferred from the packets";
    // STOMP (decode/stomp.rs)
    STOMP_MALFORMED = "stomp-malformed", Warning, "STOMP 1.2", "a message of a STOMP session is not a valid STOMP frame; it is shown raw";
    // graphql-transport-ws and graphql-ws (decode/graphql.rs)
    GRAPHQL_WS_MALFORMED = "graphql-ws-malformed", Warning, "graphql-transport-ws / graphql-ws protocol", "a message of a GraphQL over WebSocket session is not one of its protocol's JSON messages; it is shown raw";
    // JSON-RPC 2.0 (decode/jsonrpc.rs)
    JSONRPC_MALFORMED = "jsonrpc-malformed", Warning, "JSON-RPC 2.0 §4-5", "a message of a JSON-RPC session is not a valid JSON-RPC 2.0 request, response or batch; it is shown raw";
}

/// A rule broken at a place in the capture.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub conn: ConnId,
    /// The HTTP/2 stream of the WebSocket session concerned (RFC 8441); None over HTTP/1.1 and
    /// for the connection as a whole.
    pub stream: Option<StreamId>,
    pub dir: Option<Direction>,
    pub packet: Option<PacketRef>,
    pub rule: &'static Rule,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_kebab_case() {
        let mut names: Vec<_> = ALL.iter().map(|r| r.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for n in names {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()),
                "{n}"
            );
        }
    }
}
