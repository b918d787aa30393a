//! MQTT's numbers by name: packet types, reason codes (5.0 §2.4), CONNACK return codes and
//! SUBACK return codes (3.1.1 §3.2.2.3, §3.9.3). Unknown codes are named `reserved 0xNN`, never
//! rejected: the packet is still shown.

use std::borrow::Cow;

/// The control packet types (MQTT 5.0 §2.1.2; 3.1.1 §2.2.1, where 15 is reserved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect = 1,
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Suback,
    Unsubscribe,
    Unsuback,
    Pingreq,
    Pingresp,
    Disconnect,
    Auth,
}

impl PacketType {
    /// The type in the high nibble of a fixed header's first byte; 0 is reserved.
    pub fn from_nibble(n: u8) -> Option<PacketType> {
        use PacketType::*;
        Some(match n {
            1 => Connect,
            2 => Connack,
            3 => Publish,
            4 => Puback,
            5 => Pubrec,
            6 => Pubrel,
            7 => Pubcomp,
            8 => Subscribe,
            9 => Suback,
            10 => Unsubscribe,
            11 => Unsuback,
            12 => Pingreq,
            13 => Pingresp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            Connack => "CONNACK",
            Publish => "PUBLISH",
            Puback => "PUBACK",
            Pubrec => "PUBREC",
            Pubrel => "PUBREL",
            Pubcomp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            Suback => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            Unsuback => "UNSUBACK",
            Pingreq => "PINGREQ",
            Pingresp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }

    /// The flags the fixed header must carry (5.0 §2.1.3; 3.1.1 §2.2.2); PUBLISH's are its own.
    pub fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::Pubrel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

/// A 5.0 reason code's name (5.0 §2.4, table 2-6). `packet` picks between the names 0x00 has.
pub fn reason(packet: PacketType, code: u8) -> Cow<'static, str> {
    let name = match (code, packet) {
        (0x00, PacketType::Disconnect) => "Normal disconnection",
        (0x00, PacketType::Suback) => "Granted QoS 0",
        (0x00, _) => "Success",
        (0x01, _) => "Granted QoS 1",
        (0x02, _) => "Granted QoS 2",
        (0x04, _) => "Disconnect with Will Message",
        (0x10, _) => "No matching subscribers",
        (0x11, _) => "No subscription existed",
        (0x18, _) => "Continue authentication",
        (0x19, _) => "Re-authenticate",
        (0x80, _) => "Unspecified error",
        (0x81, _) => "Malformed Packet",
        (0x82, _) => "Protocol Error",
        (0x83, _) => "Implementation specific error",
        (0x84, _) => "Unsupported Protocol Version",
        (0x85, _) => "Client Identifier not valid",
        (0x86, _) => "Bad User Name or Password",
        (0x87, _) => "Not authorized",
        (0x88, _) => "Server unavailable",
        (0x89, _) => "Server busy",
        (0x8A, _) => "Banned",
        (0x8B, _) => "Server shutting down",
        (0x8C, _) => "Bad authentication method",
        (0x8D, _) => "Keep Alive timeout",
        (0x8E, _) => "Session taken over",
        (0x8F, _) => "Topic Filter invalid",
        (0x90, _) => "Topic Name invalid",
        (0x91, _) => "Packet Identifier in use",
        (0x92, _) => "Packet Identifier not found",
        (0x93, _) => "Receive Maximum exceeded",
        (0x94, _) => "Topic Alias invalid",
        (0x95, _) => "Packet too large",
        (0x96, _) => "Message rate too high",
        (0x97, _) => "Quota exceeded",
        (0x98, _) => "Administrative action",
        (0x99, _) => "Payload format invalid",
        (0x9A, _) => "Retain not supported",
        (0x9B, _) => "QoS not supported",
        (0x9C, _) => "Use another server",
        (0x9D, _) => "Server moved",
        (0x9E, _) => "Shared Subscriptions not supported",
        (0x9F, _) => "Connection rate exceeded",
        (0xA0, _) => "Maximum connect time",
        (0xA1, _) => "Subscription Identifiers not supported",
        (0xA2, _) => "Wildcard Subscriptions not supported",
        _ => return Cow::Owned(format!("reserved 0x{code:02X}")),
    };
    Cow::Borrowed(name)
}

/// A 3.1/3.1.1 CONNACK return code's name (3.1.1 §3.2.2.3, table 3.1).
pub fn connack_return(code: u8) -> Cow<'static, str> {
    Cow::Borrowed(match code {
        0 => "Connection Accepted",
        1 => "unacceptable protocol version",
        2 => "identifier rejected",
        3 => "Server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => return Cow::Owned(format!("reserved 0x{code:02X}")),
    })
}

/// A 3.1.1 SUBACK return code's name (3.1.1 §3.9.3).
pub fn suback_return(code: u8) -> Cow<'static, str> {
    Cow::Borrowed(match code {
        0 => "Success - Maximum QoS 0",
        1 => "Success - Maximum QoS 1",
        2 => "Success - Maximum QoS 2",
        0x80 => "Failure",
        _ => return Cow::Owned(format!("reserved 0x{code:02X}")),
    })
}

/// How a property's value is written (5.0 §2.2.2.2, table 2-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyType {
    Byte,
    U16,
    U32,
    VarInt,
    Utf8,
    Binary,
    Pair,
}

/// A 5.0 property's snake_case name and type, by identifier (table 2-4); None: not defined.
pub fn property(id: u32) -> Option<(&'static str, PropertyType)> {
    use PropertyType::*;
    Some(match id {
        0x01 => ("payload_format_indicator", Byte),
        0x02 => ("message_expiry_interval", U32),
        0x03 => ("content_type", Utf8),
        0x08 => ("response_topic", Utf8),
        0x09 => ("correlation_data", Binary),
        0x0B => ("subscription_identifier", VarInt),
        0x11 => ("session_expiry_interval", U32),
        0x12 => ("assigned_client_identifier", Utf8),
        0x13 => ("server_keep_alive", U16),
        0x15 => ("authentication_method", Utf8),
        0x16 => ("authentication_data", Binary),
        0x17 => ("request_problem_information", Byte),
        0x18 => ("will_delay_interval", U32),
        0x19 => ("request_response_information", Byte),
        0x1A => ("response_information", Utf8),
        0x1C => ("server_reference", Utf8),
        0x1F => ("reason_string", Utf8),
        0x21 => ("receive_maximum", U16),
        0x22 => ("topic_alias_maximum", U16),
        0x23 => ("topic_alias", U16),
        0x24 => ("maximum_qos", Byte),
        0x25 => ("retain_available", Byte),
        0x26 => ("user_property", Pair),
        0x27 => ("maximum_packet_size", U32),
        0x28 => ("wildcard_subscription_available", Byte),
        0x29 => ("subscription_identifier_available", Byte),
        0x2A => ("shared_subscription_available", Byte),
        _ => return None,
    })
}

/// Properties that may appear more than once, so their values are kept as a list.
pub fn repeatable(name: &str) -> bool {
    name == "user_property" || name == "subscription_identifier"
}
