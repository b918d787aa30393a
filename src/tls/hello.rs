//! The handshake messages wsdissect reads: the ClientHello and ServerHello (parsed with
//! rusticata's `tls-parser`), and, in TLS 1.3, the EncryptedExtensions that carry the chosen
//! ALPN protocol, Finished (where a side switches to its traffic keys) and KeyUpdate.

use tls_parser::{
    parse_tls_client_hello_extensions, parse_tls_extensions, parse_tls_message_handshake,
    parse_tls_server_hello_extensions, SNIType, TlsExtension, TlsExtensionType, TlsMessage,
    TlsMessageHandshake,
};

use super::keylog::ClientRandom;

pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const NEW_SESSION_TICKET: u8 = 4;
pub const ENCRYPTED_EXTENSIONS: u8 = 8;
pub const FINISHED: u8 = 20;
pub const KEY_UPDATE: u8 = 24;

pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;

/// A ServerHello with this random is a HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    pub random: ClientRandom,
    pub session_id: Vec<u8>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// It offers 0-RTT data (the `early_data` extension).
    pub early_data: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    /// The version agreed: `supported_versions` when present (TLS 1.3), else the legacy field.
    pub version: u16,
    pub suite: u16,
    /// TLS 1.2 carries the chosen ALPN protocol here; TLS 1.3 in EncryptedExtensions.
    pub alpn: Option<String>,
    /// A HelloRetryRequest: a second ClientHello and ServerHello follow.
    pub retry: bool,
    /// TLS 1.2 CBC suites: the MAC covers the ciphertext (RFC 7366).
    pub encrypt_then_mac: bool,
    pub session_id: Vec<u8>,
    /// TLS 1.3: the server accepted a pre-shared key (resumption, RFC 8446 §4.2.11).
    pub psk: bool,
}

/// Handshake messages out of a side's handshake bytes, which may span records (and a record may
/// hold several messages). Messages over `MAX_MESSAGE` (certificate chains) are skipped.
#[derive(Debug, Default)]
pub struct MessageReader {
    buf: Vec<u8>,
    /// Bytes of an oversized message still to skip.
    skip: usize,
}

/// Longest handshake message kept: more than any hello; certificates may be longer and are not
/// needed.
const MAX_MESSAGE: usize = 64 * 1024;

impl MessageReader {
    pub fn push(&mut self, mut bytes: &[u8]) {
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        bytes = &bytes[skipped..];
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message (type, then the whole message with its 4-byte header).
    pub fn next_message(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            let [t, a, b, c, ..] = self.buf[..] else {
                return None;
            };
            let len = 4 + usize::from(a) * 65536 + usize::from(b) * 256 + usize::from(c);
            if len > MAX_MESSAGE {
                let drop = len.min(self.buf.len());
                self.buf.drain(..drop);
                self.skip = len - drop;
                if self.skip > 0 {
                    return None;
                }
                continue;
            }
            if self.buf.len() < len {
                return None;
            }
            let msg: Vec<u8> = self.buf.drain(..len).collect();
            return Some((t, msg));
        }
    }
}

pub fn parse_client_hello(msg: &[u8]) -> Option<ClientHello> {
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) =
        parse_tls_message_handshake(msg)
    else {
        return None;
    };
    let random: ClientRandom = ch.random.try_into().ok()?;
    let exts = ch
        .ext
        .and_then(|e| parse_tls_client_hello_extensions(e).ok())
        .map(|(_, v)| v)
        .unwrap_or_default();
    let mut hello = ClientHello {
        random,
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        sni: None,
        alpn: Vec::new(),
        early_data: false,
    };
    for ext in exts {
        match ext {
            TlsExtension::SNI(names) => {
                hello.sni = names
                    .iter()
                    .find(|(t, _)| *t == SNIType::HostName)
                    .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
            }
            TlsExtension::ALPN(protocols) => hello.alpn = protocol_names(&protocols),
            TlsExtension::EarlyData(_) => hello.early_data = true,
            _ => {}
        }
    }
    Some(hello)
}

pub fn parse_server_hello(msg: &[u8]) -> Option<ServerHello> {
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)))) =
        parse_tls_message_handshake(msg)
    else {
        return None;
    };
    let random: [u8; 32] = sh.random.try_into().ok()?;
    let exts = sh
        .ext
        .and_then(|e| parse_tls_server_hello_extensions(e).ok())
        .map(|(_, v)| v)
        .unwrap_or_default();
    let mut hello = ServerHello {
        random,
        version: sh.version.0,
        suite: sh.cipher.0,
        alpn: None,
        retry: random == HELLO_RETRY_RANDOM,
        encrypt_then_mac: false,
        session_id: sh.session_id.unwrap_or_default().to_vec(),
        psk: false,
    };
    for ext in exts {
        match ext {
            TlsExtension::SupportedVersions(v) => {
                if let Some(v) = v.first() {
                    hello.version = v.0;
                }
            }
            TlsExtension::ALPN(protocols) => hello.alpn = protocol_names(&protocols).pop(),
            TlsExtension::EncryptThenMac => hello.encrypt_then_mac = true,
            TlsExtension::PreSharedKey(_) => hello.psk = true,
            // tls-parser 0.12.2 reads ServerHello extension 22 (encrypt_then_mac, RFC 7366) as
            // unknown, and 21 (padding) as encrypt_then_mac.
            TlsExtension::Unknown(TlsExtensionType(22), _) => hello.encrypt_then_mac = true,
            _ => {}
        }
    }
    Some(hello)
}

/// TLS 1.3 EncryptedExtensions (RFC 8446 §4.3.1): the ALPN protocol the server chose, if any.
pub fn encrypted_extensions_alpn(msg: &[u8]) -> Option<String> {
    let body = msg.get(4..)?;
    let len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let (_, exts) = parse_tls_extensions(body.get(2..2 + len)?).ok()?;
    exts.into_iter().find_map(|e| match e {
        TlsExtension::ALPN(p) => protocol_names(&p).pop(),
        _ => None,
    })
}

fn protocol_names(protocols: &[&[u8]]) -> Vec<String> {
    protocols
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// A cipher suite's IANA name, or its number.
pub fn suite_name(id: u16) -> String {
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(s) => s.name.to_string(),
        None => format!("0x{id:04X}"),
    }
}

pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1.0".into(),
        0x0302 => "TLSv1.1".into(),
        TLS12 => "TLSv1.2".into(),
        TLS13 => "TLSv1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_across_pushes_and_oversized_ones_are_skipped() {
        let mut r = MessageReader::default();
        let mut big = vec![11, 0x01, 0x00, 0x00]; // a 65536-byte certificate message
        big.extend(vec![0; 65536]);
        let mut stream = vec![2, 0, 0, 2, 0xaa, 0xbb];
        stream.extend(&big);
        stream.extend([20, 0, 0, 1, 0xcc]);
        let mut seen = Vec::new();
        for chunk in stream.chunks(1000) {
            r.push(chunk);
            while let Some((t, m)) = r.next_message() {
                seen.push((t, m.len()));
            }
        }
        assert_eq!(seen, [(2, 6), (20, 5)]);
    }

    #[test]
    fn names() {
        assert_eq!(suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0xfefe), "0xFEFE");
        assert_eq!(version_name(TLS13), "TLSv1.3");
    }
}
