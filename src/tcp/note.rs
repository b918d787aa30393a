//! What TCP reports beside bytes and holes: packets the receiver did not take as the capture
//! shows them. Each becomes a diagnostic above TCP; none stops the connection.

use std::fmt;

/// Why a copy of a segment is taken to have been dropped before the receiver took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doubt {
    /// The IP or TCP checksum is wrong (and this direction's checksums are otherwise right or
    /// offloaded): the receiver's stack drops it.
    BadChecksum,
    /// The TTL (hop limit) is this much lower than the direction's usual one: the packet would
    /// expire before it reaches the receiver.
    LowTtl { ttl: u8, usual: u8 },
}

impl fmt::Display for Doubt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Doubt::BadChecksum => f.write_str("a bad checksum"),
            Doubt::LowTtl { ttl, usual } => write!(f, "TTL {ttl} where this direction has {usual}"),
        }
    }
}

/// The control flags a receiver may refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Syn,
    Rst,
    Fin,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Syn => "SYN",
            Control::Rst => "RST",
            Control::Fin => "FIN",
        }
    }
}

/// Why a control packet did not end (or restart) the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The packet never reached the receiver's TCP.
    Dropped(Doubt),
    /// A reset whose sequence number is not exactly the next one expected (RFC 5961 §3.2: the
    /// receiver answers with a challenge ACK). `off` is how far it is from that number.
    RstNotExact { off: i64 },
    /// A SYN with a new initial sequence number on a synchronized connection (RFC 5961 §4.2:
    /// the receiver answers with a challenge ACK).
    SynOnEstablished,
    /// A FIN at a place the stream had already passed (a stale or forged FIN).
    FinBehind,
    /// Far beyond where the stream is: outside any window the receiver could offer.
    OutOfWindow,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Dropped(d @ Doubt::BadChecksum) => {
                write!(f, "it has {d}, so the receiver dropped it")
            }
            Refusal::Dropped(d @ Doubt::LowTtl { .. }) => {
                write!(f, "it has {d}: it expires before the receiver")
            }
            Refusal::RstNotExact { off } => write!(
                f,
                "its sequence number is {off:+} from the one expected; the receiver answers \
                 with a challenge ACK (RFC 5961 §3.2)"
            ),
            Refusal::SynOnEstablished => f.write_str(
                "the connection is established; the receiver answers with a challenge ACK \
                 (RFC 5961 §4.2)",
            ),
            Refusal::FinBehind => f.write_str("it lies before data the receiver already took"),
            Refusal::OutOfWindow => {
                f.write_str("its sequence number is outside the receive window")
            }
        }
    }
}

/// A TCP fact worth a diagnostic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// A SYN, RST or FIN that did not end or restart the connection.
    ControlIgnored { control: Control, why: Refusal },
    /// The byte at the urgent pointer (stream offset `offset`) was taken out of the stream,
    /// as Linux does without SO_OOBINLINE.
    UrgentByte { offset: u64, byte: u8 },
    /// `len` bytes from `offset` came after the sender's FIN: the receiver does not deliver them.
    AfterFin { offset: u64, len: u64 },
    /// `len` bytes on a SYN without a Fast Open cookie: the receiver drops them (RFC 7413).
    SynDataDropped { len: u64 },
}
