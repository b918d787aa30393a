//! The NSS key log format (what `SSLKEYLOGFILE` makes browsers and TLS libraries write, and
//! what a pcapng Decryption Secrets Block holds): one secret per line,
//! `LABEL <client random, 64 hex digits> <secret, hex>`.
//! <https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/index.html>

use std::collections::HashMap;

/// A TLS ClientHello random: the key every secret is filed under.
pub type ClientRandom = [u8; 32];

/// The secrets known for one connection (by its client random).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 and earlier: the 48-byte master secret (`CLIENT_RANDOM`).
    pub master: Option<Vec<u8>>,
    /// TLS 1.3 (RFC 8446 §7.1): `CLIENT_`/`SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    /// TLS 1.3: `CLIENT_`/`SERVER_TRAFFIC_SECRET_0`.
    pub client_traffic: Option<Vec<u8>>,
    pub server_traffic: Option<Vec<u8>>,
    /// TLS 1.3 0-RTT: `CLIENT_EARLY_TRAFFIC_SECRET`.
    pub client_early: Option<Vec<u8>>,
}

/// A line that could not be read, by its 1-based number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub why: &'static str,
}

/// Secrets by client random.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    secrets: HashMap<ClientRandom, Secrets>,
}

/// Labels of other protocols or of secrets no decryption here needs: skipped without a word.
const IGNORED_LABELS: [&str; 3] = ["EXPORTER_SECRET", "EARLY_EXPORTER_SECRET", "RSA"];

impl KeyLog {
    /// Read a key log; malformed lines are skipped and returned.
    pub fn parse(text: &[u8]) -> (KeyLog, Vec<Malformed>) {
        let mut log = KeyLog::default();
        let bad = log.add(text);
        (log, bad)
    }

    /// Add the lines of `text` (a key log file, or a Decryption Secrets Block); returns the
    /// malformed ones. A later line for the same secret replaces the earlier one.
    pub fn add(&mut self, text: &[u8]) -> Vec<Malformed> {
        let mut bad = Vec::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if let Err(why) = self.add_line(line) {
                bad.push(Malformed { line: i + 1, why });
            }
        }
        bad
    }

    fn add_line(&mut self, line: &[u8]) -> Result<(), &'static str> {
        let line = std::str::from_utf8(line).map_err(|_| "not text")?.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut fields = line.split_ascii_whitespace();
        let (Some(label), Some(random), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err("expected LABEL CLIENT_RANDOM SECRET");
        };
        // OpenSSL also logs each KeyUpdate's secret as `…_TRAFFIC_SECRET_N`; they are derived
        // from secret 0 anyway (RFC 8446 §7.2).
        let later_traffic = (label.starts_with("CLIENT_TRAFFIC_SECRET_")
            || label.starts_with("SERVER_TRAFFIC_SECRET_"))
            && !label.ends_with("_0");
        if IGNORED_LABELS.contains(&label) || later_traffic {
            return Ok(());
        }
        let random: ClientRandom = hex_decode(random)
            .and_then(|r| r.try_into().ok())
            .ok_or("the client random is not 64 hex digits")?;
        let secret = hex_decode(secret).ok_or("the secret is not hex")?;
        let slot: fn(&mut Secrets) -> &mut Option<Vec<u8>> = match label {
            "CLIENT_RANDOM" if secret.len() == 48 => |s| &mut s.master,
            "CLIENT_RANDOM" => return Err("a master secret is 48 bytes"),
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.client_handshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.server_handshake,
            "CLIENT_TRAFFIC_SECRET_0" => |s| &mut s.client_traffic,
            "SERVER_TRAFFIC_SECRET_0" => |s| &mut s.server_traffic,
            "CLIENT_EARLY_TRAFFIC_SECRET" => |s| &mut s.client_early,
            _ => return Err("unknown label"),
        };
        // Filed only now: a rejected line leaves no (empty) entry behind.
        *slot(self.secrets.entry(random).or_default()) = Some(secret);
        Ok(())
    }

    pub fn get(&self, random: &ClientRandom) -> Option<&Secrets> {
        self.secrets.get(random)
    }

    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";

    #[test]
    fn reads_tls12_and_tls13_lines_and_skips_the_rest() {
        let text = format!(
            "# comment\n\nCLIENT_RANDOM {R} {}\nCLIENT_TRAFFIC_SECRET_0 {R} {}\r\nEXPORTER_SECRET {R} 00\nCLIENT_RANDOM zz 00\nSERVER_TRAFFIC_SECRET_0 {R}\nNEW_LABEL {R} 00\n",
            "11".repeat(48),
            "22".repeat(32)
        );
        let (log, bad) = KeyLog::parse(text.as_bytes());
        let random: ClientRandom = hex_decode(R).unwrap().try_into().unwrap();
        let s = log.get(&random).unwrap();
        assert_eq!(s.master.as_deref(), Some(&[0x11; 48][..]));
        assert_eq!(s.client_traffic.as_deref(), Some(&[0x22; 32][..]));
        assert_eq!(s.server_traffic, None);
        let lines: Vec<usize> = bad.iter().map(|m| m.line).collect();
        assert_eq!(lines, [6, 7, 8]);
        assert_eq!(bad[0].why, "the client random is not 64 hex digits");
    }

    /// A rejected line files nothing: the random stays unknown, so a live capture's key store
    /// still reads the file again for it (found by the `tls_keylog` fuzz target).
    #[test]
    fn a_rejected_line_leaves_no_empty_entry() {
        let text = format!("NEW_LABEL {R} 00\nCLIENT_RANDOM {R} 0011\n");
        let (log, bad) = KeyLog::parse(text.as_bytes());
        assert_eq!(bad.len(), 2);
        let random: ClientRandom = hex_decode(R).unwrap().try_into().unwrap();
        assert_eq!(log.get(&random), None);
        assert!(log.is_empty());
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let (log, bad) = KeyLog::parse(b"\xff\xfe\x00 CLIENT_RANDOM\nCLIENT_RANDOM 0 1 2 3\n");
        assert!(log.is_empty());
        assert_eq!(bad.len(), 2);
    }
}
