//! The RFC 6455 / RFC 7692 checks on one frame, as pure functions: a header (and the side that
//! sent it and what was negotiated) in, the rules it breaks out. The session adds the checks
//! that need history (fragments, close, pings); the resynchronisation hunt asks the same
//! questions to decide whether bytes look like a frame at all.

use super::close::{classify_close_code, CloseCodeClass, CloseInfo};
use super::frame::FrameHeader;
use super::opcode::OpCode;
use crate::base::rules::{self, Rule};
use crate::base::Direction;

/// A rule broken, and what exactly broke it.
pub type Finding = (&'static Rule, String);

/// RFC 7692 §6.1: with permessage-deflate, RSV1 marks the first frame of a compressed message,
/// so it is wrong on continuation and control frames. (Reserved opcodes are their own rule.)
pub fn rsv1_misplaced(h: &FrameHeader) -> bool {
    h.rsv1 && (h.opcode.is_control() || h.opcode == OpCode::Continuation)
}

/// §5.5: control frames carry at most 125 bytes.
pub fn control_too_long(h: &FrameHeader) -> bool {
    h.opcode.is_control() && h.payload_len > 125
}

/// §5.5: control frames are never fragmented.
pub fn control_fragmented(h: &FrameHeader) -> bool {
    h.opcode.is_control() && !h.fin
}

/// §5.1: clients mask every frame, servers none.
pub fn mask_wrong(h: &FrameHeader, dir: Direction) -> bool {
    h.masked != (dir == Direction::ClientToServer)
}

/// The rules a header breaks on its own, given the side that sent it and whether an extension
/// (permessage-deflate) gave RSV1 a meaning. In the order every view reports them.
pub fn header_findings(h: &FrameHeader, dir: Direction, rsv1_defined: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    if mask_wrong(h, dir) {
        found.push(match dir {
            Direction::ClientToServer => (
                &rules::CLIENT_FRAME_UNMASKED,
                format!("client {} frame is not masked", h.opcode),
            ),
            Direction::ServerToClient => (
                &rules::SERVER_FRAME_MASKED,
                format!("server {} frame is masked", h.opcode),
            ),
        });
    }
    if (h.rsv1 && !rsv1_defined) || h.rsv2 || h.rsv3 {
        found.push((
            &rules::RSV_BIT_WITHOUT_EXTENSION,
            format!(
                "RSV1={} RSV2={} RSV3={} with no extension that defines them",
                u8::from(h.rsv1),
                u8::from(h.rsv2),
                u8::from(h.rsv3)
            ),
        ));
    }
    if rsv1_defined && rsv1_misplaced(h) {
        found.push((
            &rules::DEFLATE_RSV1_MISPLACED,
            format!("RSV1 set on a {} frame", h.opcode),
        ));
    }
    if let OpCode::Reserved(b) = h.opcode {
        found.push((
            &rules::RESERVED_OPCODE,
            format!("opcode 0x{b:X} is reserved"),
        ));
    }
    found.extend(length_findings(h));
    if control_too_long(h) {
        found.push((
            &rules::CONTROL_FRAME_TOO_LONG,
            format!("{} frame with a {}-byte payload", h.opcode, h.payload_len),
        ));
    }
    if control_fragmented(h) {
        found.push((
            &rules::CONTROL_FRAME_FRAGMENTED,
            format!("{} frame with FIN=0", h.opcode),
        ));
    }
    found
}

/// §5.2: the 64-bit length's top bit is 0, and the shortest form is used.
fn length_findings(h: &FrameHeader) -> impl Iterator<Item = Finding> {
    let msb = h.length_msb_set().then(|| {
        (
            &rules::LENGTH_MSB_SET,
            format!("64-bit length 0x{:016X} has its top bit set", h.payload_len),
        )
    });
    let not_minimal = h.length_not_minimal().then(|| {
        (
            &rules::LENGTH_NOT_MINIMAL,
            format!(
                "length {} written in the {}-bit form",
                h.payload_len,
                if h.len7 == 126 { 16 } else { 64 }
            ),
        )
    });
    msb.into_iter().chain(not_minimal)
}

/// The rules a close frame's payload breaks (§5.5.1, §7.4).
pub fn close_findings(payload: &[u8], close: &CloseInfo) -> Vec<Finding> {
    let mut found = Vec::new();
    if payload.len() == 1 {
        found.push((
            &rules::CLOSE_PAYLOAD_ONE_BYTE,
            "close frame with a 1-byte payload".into(),
        ));
    }
    if let Some(code) = close.code {
        match classify_close_code(code) {
            CloseCodeClass::NotOnWire(n) => found.push((
                &rules::CLOSE_CODE_NOT_ON_WIRE,
                format!("close code {code} ({n}) must not be sent"),
            )),
            CloseCodeClass::Invalid
            | CloseCodeClass::UnassignedProtocol
            | CloseCodeClass::OutOfRange => found.push((
                &rules::CLOSE_CODE_INVALID,
                format!("close code {code} is not allowed on the wire"),
            )),
            _ => {}
        }
    }
    if let Some(at) = close.reason_utf8_error {
        found.push((
            &rules::INVALID_UTF8_CLOSE_REASON,
            format!("close reason is not valid UTF-8 at byte {at}"),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::close::parse_close;
    use crate::ws::frame::{decode_frame_header, HeaderDecode};

    fn header(bytes: &[u8]) -> FrameHeader {
        match decode_frame_header(bytes) {
            HeaderDecode::Complete(h) => h,
            HeaderDecode::NeedMore(n) => panic!("need {n} more"),
        }
    }

    fn names(found: &[Finding]) -> Vec<&'static str> {
        found.iter().map(|(r, _)| r.name).collect()
    }

    #[test]
    fn a_clean_client_frame_breaks_nothing() {
        let h = header(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        assert!(header_findings(&h, Direction::ClientToServer, false).is_empty());
    }

    #[test]
    fn one_header_can_break_many_rules_in_report_order() {
        // Unmasked client ping, FIN=0, RSV1, 16-bit length 200.
        let h = header(&[0x49, 0x7e, 0x00, 0xc8]);
        assert_eq!(
            names(&header_findings(&h, Direction::ClientToServer, true)),
            [
                "client-frame-unmasked",
                "deflate-rsv1-misplaced",
                "control-frame-too-long",
                "control-frame-fragmented"
            ]
        );
        assert_eq!(
            names(&header_findings(&h, Direction::ClientToServer, false))[1],
            "rsv-without-extension"
        );
    }

    #[test]
    fn length_rules() {
        let msb = header(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            names(&header_findings(&msb, Direction::ServerToClient, false)),
            ["length-msb-set"]
        );
        let long_form = header(&[0x82, 0x7e, 0x00, 0x05]);
        assert_eq!(
            names(&header_findings(
                &long_form,
                Direction::ServerToClient,
                false
            )),
            ["length-not-minimal"]
        );
        // §5.2: "the minimal number of bytes MUST be used to encode the length".
        assert_eq!(
            rules::LENGTH_NOT_MINIMAL.severity,
            crate::base::rules::Severity::Error
        );
    }

    #[test]
    fn close_payload_rules() {
        let one = [0x03];
        assert_eq!(
            names(&close_findings(&one, &parse_close(&one))),
            ["close-payload-one-byte"]
        );
        let bad = [0x03, 0xee, 0xff];
        assert_eq!(
            names(&close_findings(&bad, &parse_close(&bad))),
            ["close-code-not-on-wire", "invalid-utf8-close-reason"]
        );
    }
}
