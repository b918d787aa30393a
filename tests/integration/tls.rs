//! wss: every capture in samples/tls/ (real TLS stacks, each with the key log it wrote)
//! decrypted with its key log gives exactly the messages the senders logged, and the TLS facts
//! the libraries reported; without keys, with a wrong key, with a damaged key log and with a
//! lost segment the output says what happened and never shows garbage as WebSocket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{filter_pcap, repo, sha256_hex};
use wsdissect::capture::file::FileSource;
use wsdissect::conversation::DissectConfig;
use wsdissect::event::{ConnectionInfo, Event};
use wsdissect::output::Collect;

pub struct TlsSample {
    pub capture: PathBuf,
    pub keys: PathBuf,
    pub expected: serde_json::Value,
}

/// Every capture in samples/tls/ with its key log and what its senders logged.
pub fn tls_samples() -> Vec<TlsSample> {
    let dir = repo().join("samples/tls");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    names.sort();
    let samples: Vec<TlsSample> = names
        .into_iter()
        .map(|p| {
            let expected: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let stem = p.to_string_lossy().replace(".expected.json", "");
            TlsSample {
                capture: dir.join(expected["capture"].as_str().unwrap()),
                keys: PathBuf::from(format!("{stem}.keys")),
                expected,
            }
        })
        .collect();
    assert!(samples.len() >= 10, "samples/tls holds {}", samples.len());
    samples
}

pub fn dissect(capture: &Path, keylog: Option<PathBuf>) -> Vec<Event> {
    dissect_source(FileSource::open(capture).unwrap(), keylog)
}

fn dissect_source(mut src: FileSource, keylog: Option<PathBuf>) -> Vec<Event> {
    let cfg = DissectConfig {
        message_keep: 64 << 20,
        tls_keylog: keylog,
        ..DissectConfig::default()
    };
    let mut sink = Collect::default();
    wsdissect::dissect(&mut src, cfg, &mut sink).unwrap();
    sink.0
}

/// Per client address: the connection, and its messages as (dir, opcode, len, sha256).
type Seen = BTreeMap<String, (ConnectionInfo, Vec<(String, u8, u64, String)>)>;

fn seen(events: &[Event]) -> Seen {
    let mut by_conn = BTreeMap::new();
    for e in events {
        match e {
            Event::Connection(c) => {
                by_conn.insert(c.conn, (c.clone(), Vec::new()));
            }
            Event::Message(m) => {
                if let Some((_, msgs)) = by_conn.get_mut(&m.conn) {
                    let sha = sha256_hex(&m.payload.bytes);
                    let opcode = m.opcode.bits();
                    msgs.push((m.dir.as_str().to_string(), opcode, m.payload.len, sha));
                }
            }
            _ => {}
        }
    }
    by_conn
        .into_values()
        .map(|(c, m)| (c.client.to_string(), (c, m)))
        .collect()
}

fn rules_of(events: &[Event]) -> Vec<(&'static str, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) => Some((d.rule.name, d.message.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn every_tls_sample_decrypts_to_exactly_the_messages_sent() {
    let mut failures = Vec::new();
    for s in tls_samples() {
        let name = s.capture.file_name().unwrap().to_string_lossy().to_string();
        // A pcapng with a Decryption Secrets Block needs no key log.
        let keylog = (!name.ends_with(".pcapng")).then(|| s.keys.clone());
        let events = dissect(&s.capture, keylog);
        let seen = seen(&events);
        for ec in s.expected["connections"].as_array().unwrap() {
            let client = ec["client"].as_str().unwrap();
            let Some((conn, msgs)) = seen.get(client) else {
                failures.push(format!("{name}: connection {client} not shown"));
                continue;
            };
            let et = &ec["tls"];
            let tls = conn.tls.as_ref().expect("a TLS connection");
            let keyed = et["keyed"].as_bool().unwrap_or(true);
            if tls.decrypted != keyed {
                failures.push(format!("{name} {client}: decrypted {}", tls.decrypted));
            }
            if tls.resumed != et["resumed"].as_bool().unwrap_or(false) {
                failures.push(format!("{name} {client}: resumed {}", tls.resumed));
            }
            if tls.version_name() != et["version"].as_str().unwrap()
                || tls.suite_name() != et["cipher"].as_str().unwrap()
                || tls.sni.as_deref() != et["sni"].as_str()
            {
                failures.push(format!("{name} {client}: tls {tls:?} expected {et}"));
            }
            // ALPN chosen is encrypted in TLS 1.3: known only when decrypted.
            let alpn_known = keyed || tls.version_name() == "TLSv1.2";
            if alpn_known && tls.alpn.as_deref() != et["alpn"].as_str() {
                failures.push(format!("{name} {client}: alpn {:?}", tls.alpn));
            }
            let want: Vec<(String, u8, u64, String)> = if keyed {
                ec["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        (
                            m["dir"].as_str().unwrap().to_string(),
                            m["opcode"].as_u64().unwrap() as u8,
                            m["len"].as_u64().unwrap(),
                            m["sha256"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            for dir in ["c2s", "s2c"] {
                let got: Vec<_> = msgs.iter().filter(|m| m.0 == dir).collect();
                let exp: Vec<_> = want.iter().filter(|m| m.0 == dir).collect();
                if got != exp {
                    failures.push(format!(
                        "{name} {client} {dir}: {} messages, {} sent",
                        got.len(),
                        exp.len()
                    ));
                }
            }
        }
        let bad: Vec<_> = rules_of(&events)
            .into_iter()
            .filter(|(r, _)| !matches!(*r, "tls-close-notify" | "tls-no-key"))
            .collect();
        if !bad.is_empty() {
            failures.push(format!("{name}: unexpected diagnostics {bad:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn without_keys_every_tls_connection_is_shown_with_its_client_random() {
    let samples = tls_samples();
    // Two TLS 1.2 connections, both shown without keys (a TLS 1.3 one: py-tls-partial-keys).
    let s = samples
        .iter()
        .find(|s| s.capture.ends_with("py-tls12-gcm.pcap"))
        .expect("samples/tls/py-tls12-gcm.pcap");
    let events = dissect(&s.capture, None);
    let conns: Vec<&ConnectionInfo> = events
        .iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(
        conns.len(),
        s.expected["connections"].as_array().unwrap().len()
    );
    assert!(conns
        .iter()
        .all(|c| c.tls.as_ref().is_some_and(|t| !t.decrypted)));
    assert!(!events.iter().any(|e| matches!(e, Event::Frame(_))));
    let no_key: Vec<String> = rules_of(&events)
        .into_iter()
        .filter(|(r, _)| *r == "tls-no-key")
        .map(|(_, m)| m)
        .collect();
    for ec in s.expected["connections"].as_array().unwrap() {
        let random = ec["tls"]["client_random"].as_str().unwrap();
        assert!(
            no_key.iter().any(|m| m.contains(random)),
            "{random} not named in {no_key:?}"
        );
    }
}

/// A key log whose secrets are all wrong: the first protected record does not authenticate,
/// decryption stops with a diagnostic, and nothing is passed up as WebSocket.
#[test]
fn a_wrong_key_stops_decryption_and_passes_no_garbage() {
    for name in ["py-tls13-chacha", "py-tls12-gcm"] {
        let dir = repo().join("samples/tls");
        let text = std::fs::read_to_string(dir.join(format!("{name}.keys"))).unwrap();
        let wrong: String = text
            .lines()
            .map(|l| {
                let mut f: Vec<String> = l.split(' ').map(String::from).collect();
                if f.len() == 3 {
                    f[2] = f[2].replace('0', "1").replace('a', "b");
                }
                f.join(" ") + "\n"
            })
            .collect();
        let keys =
            std::env::temp_dir().join(format!("wsd-wrong-{name}-{}.keys", std::process::id()));
        std::fs::write(&keys, wrong).unwrap();
        let events = dissect(&dir.join(format!("{name}.pcap")), Some(keys.clone()));
        std::fs::remove_file(keys).unwrap();
        let rules = rules_of(&events);
        assert!(
            rules.iter().any(|(r, _)| *r == "tls-decrypt-failed"),
            "{name}: {rules:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Frame(_) | Event::Handshake(_))),
            "{name}: garbage passed up"
        );
    }
}

#[test]
fn malformed_key_log_lines_are_named_and_skipped() {
    let dir = repo().join("samples/tls");
    let mut text = String::from("# a comment\nCLIENT_RANDOM nothex 00\n");
    text.push_str(&std::fs::read_to_string(dir.join("py-tls13-aes128.keys")).unwrap());
    text.push_str("SERVER_TRAFFIC_SECRET_0 short\n");
    let keys = std::env::temp_dir().join(format!("wsd-malformed-{}.keys", std::process::id()));
    std::fs::write(&keys, text).unwrap();
    let events = dissect(&dir.join("py-tls13-aes128.pcap"), Some(keys.clone()));
    std::fs::remove_file(keys).unwrap();
    let malformed: Vec<String> = rules_of(&events)
        .into_iter()
        .filter(|(r, _)| *r == "tls-keylog-malformed")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(malformed.len(), 2, "{malformed:?}");
    assert!(malformed[0].starts_with("key log line 2:"), "{malformed:?}");
    let (_, (conn, msgs)) = seen(&events).into_iter().next().unwrap();
    assert!(conn.tls.unwrap().decrypted);
    assert!(msgs.len() > 20);
}

/// A TCP segment lost in the middle of a TLS connection: the records it held are reported
/// lost, decryption goes on at the next record that authenticates, the message with the hole
/// is not glued, and the messages after it are exact.
#[test]
fn a_lost_segment_under_tls_resynchronises_on_the_next_record() {
    let dir = repo().join("samples/tls");
    for name in ["py-tls13-aes128", "py-tls12-gcm", "py-tls12-chacha"] {
        let capture = dir.join(format!("{name}.pcap"));
        let whole = dissect(&capture, Some(dir.join(format!("{name}.keys"))));
        // The largest client data segment: inside the 100 KB message.
        let victim = largest_client_segment(&capture);
        let cut = filter_pcap(&capture, |n| n != victim);
        let src =
            FileSource::from_reader(PathBuf::from("cut"), Box::new(std::io::Cursor::new(cut)))
                .unwrap();
        let events = dissect_source(src, Some(dir.join(format!("{name}.keys"))));
        let rules = rules_of(&events);
        assert!(
            rules.iter().any(|(r, _)| *r == "tls-records-lost"),
            "{name}: {rules:?}"
        );
        assert!(
            !rules.iter().any(|(r, _)| *r == "tls-decrypt-failed"),
            "{name}: {rules:?}"
        );
        let (_, (_, got)) = seen(&events).into_iter().next().unwrap();
        let (_, (_, all)) = seen(&whole).into_iter().next().unwrap();
        // Every message but the one hit arrives, exactly; the last ones certainly.
        let missing = all.iter().filter(|m| !got.contains(m)).count();
        assert!(
            missing <= 2,
            "{name}: {missing} messages lost of {}",
            all.len()
        );
        assert_eq!(
            got.last(),
            all.last(),
            "{name}: decryption went on to the end"
        );
    }
}

/// The packet number of the client's largest TCP payload in a legacy pcap on Ethernet.
fn largest_client_segment(capture: &Path) -> u64 {
    let data = std::fs::read(capture).unwrap();
    let (mut at, mut n, mut best) = (24, 0u64, (0usize, 0u64));
    let mut client_port = None;
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        let pkt = &data[at + 16..at + 16 + caplen];
        n += 1;
        at += 16 + caplen;
        let ihl = usize::from(pkt[14] & 0x0f) * 4;
        let tcp = &pkt[14 + ihl..];
        let src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
        let flags = tcp[13];
        if flags & 0x02 != 0 && flags & 0x10 == 0 {
            client_port = Some(src_port);
        }
        let payload = tcp.len() - usize::from(tcp[12] >> 4) * 4;
        if Some(src_port) == client_port && payload > best.0 {
            best = (payload, n);
        }
    }
    best.1
}

/// Live: a browser appends a connection's secrets to its key log as it connects, so they may
/// arrive after the ServerHello was captured. The records are held until the key log has them,
/// then decrypted in order: the same messages as with the whole key log from the start.
#[test]
fn secrets_appended_after_the_server_hello_still_decrypt_live() {
    use std::io::Write;
    use std::sync::Arc;
    use wsdissect::capture::keyfile::KeyFile;
    use wsdissect::capture::PacketSource;
    use wsdissect::conversation::KeyStore;
    use wsdissect::tcp::FlowTableLimits;

    let dir = repo().join("samples/tls");
    let capture = dir.join("py-tls13-aes128.pcap");
    let lines = std::fs::read(dir.join("py-tls13-aes128.keys")).unwrap();
    let path = std::env::temp_dir().join(format!("wsd-live-{}.keys", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let store = Arc::new(KeyStore::new(Some(KeyFile::open(&path).unwrap()), true));
    let cfg = DissectConfig {
        message_keep: 64 << 20,
        live: true,
        ..DissectConfig::default()
    };
    let mut pipeline = wsdissect::Pipeline::with_keys(cfg, FlowTableLimits::default(), store);
    let mut src = FileSource::open(&capture).unwrap();
    let mut sink = Collect::default();
    let mut n = 0;
    // Packet 6 holds the ServerHello and the server's encrypted flight; the key log gets the
    // lines after packet 8, when the client's Finished was already captured.
    while src
        .next_packet(&mut |p| {
            n += 1;
            pipeline.push_packet(p, &mut sink).unwrap();
            if n == 8 {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                f.write_all(&lines).unwrap();
            }
        })
        .unwrap()
    {}
    pipeline.finish(&mut sink).unwrap();
    std::fs::remove_file(&path).unwrap();
    let late = seen(&sink.0);
    let whole = seen(&dissect(&capture, Some(dir.join("py-tls13-aes128.keys"))));
    let (_, (conn, msgs)) = late.iter().next().unwrap();
    assert!(conn.tls.as_ref().unwrap().decrypted);
    assert!(msgs.len() > 20);
    assert_eq!(
        late.values().map(|(_, m)| m).collect::<Vec<_>>(),
        whole.values().map(|(_, m)| m).collect::<Vec<_>>()
    );
    // Without the lines ever arriving, the connection ends as not decrypted, and says why.
    let path = std::env::temp_dir().join(format!("wsd-live-none-{}.keys", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let store = Arc::new(KeyStore::new(Some(KeyFile::open(&path).unwrap()), true));
    let cfg = DissectConfig {
        live: true,
        ..DissectConfig::default()
    };
    let mut pipeline = wsdissect::Pipeline::with_keys(cfg, FlowTableLimits::default(), store);
    let mut src = FileSource::open(&capture).unwrap();
    let mut sink = Collect::default();
    while src
        .next_packet(&mut |p| pipeline.push_packet(p, &mut sink).unwrap())
        .unwrap()
    {}
    pipeline.finish(&mut sink).unwrap();
    std::fs::remove_file(&path).unwrap();
    let rules = rules_of(&sink.0);
    assert!(rules.iter().any(|(r, _)| *r == "tls-no-key"), "{rules:?}");
}

/// A cipher suite wsdissect cannot decrypt (AES-CCM with an 8-byte tag): the ServerHello of a
/// real capture is altered to choose it. The connection is shown, not decrypted, and the
/// diagnostic names the suite.
#[test]
fn an_unsupported_cipher_suite_is_named() {
    let dir = repo().join("samples/tls");
    let mut pcap = std::fs::read(dir.join("py-tls13-aes128.pcap")).unwrap();
    // The ServerHello: a handshake record whose first message is of type 2.
    let at = (0..pcap.len() - 10)
        .find(|&i| pcap[i..i + 3] == [0x16, 0x03, 0x03] && pcap[i + 5] == 0x02)
        .expect("a ServerHello");
    let sid_len = usize::from(pcap[at + 5 + 4 + 2 + 32]);
    let suite = at + 5 + 4 + 2 + 32 + 1 + sid_len;
    assert_eq!(pcap[suite..suite + 2], [0x13, 0x01]);
    pcap[suite..suite + 2].copy_from_slice(&[0x13, 0x05]);
    let src = FileSource::from_reader(
        PathBuf::from("altered"),
        Box::new(std::io::Cursor::new(pcap)),
    )
    .unwrap();
    let events = dissect_source(src, Some(dir.join("py-tls13-aes128.keys")));
    let rules = rules_of(&events);
    assert!(
        rules
            .iter()
            .any(|(r, m)| *r == "tls-unsupported-cipher" && m.contains("TLS_AES_128_CCM_8_SHA256")),
        "{rules:?}"
    );
    let (_, (conn, msgs)) = seen(&events).into_iter().next().unwrap();
    assert!(!conn.tls.unwrap().decrypted);
    assert!(msgs.is_empty());
}
