//! (f) The NSS key log parser: arbitrary bytes to `tls::keylog::KeyLog::parse`.
//!
//! Input: the key log text.
//!
//! Oracles, besides no panic / hang / RSS blow-up:
//! * every malformed line's number is between 1 and the number of lines of the input;
//! * a client random is in the log only with at least one secret (a rejected line files none);
//! * parsing the same text twice gives the same secrets, the same number of connections and
//!   the same malformed lines;
//! * the text split after any newline, parsed in its first part and `add`ed in its second,
//!   gives the same secrets and number of connections, and the same malformed lines (the
//!   second part's numbered from the split);
//!
//! where "the same secrets" is checked for every 64-hex-digit word of the input (the randoms
//! the input could have filed secrets under) and a random that is none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::tls::keylog::{ClientRandom, KeyLog, Malformed};

/// The randoms the input may have filed secrets under: its 64-hex-digit words.
fn randoms(text: &[u8]) -> Vec<ClientRandom> {
    let mut out = vec![[0x5a; 32]];
    for word in text.split(|b| b.is_ascii_whitespace()) {
        if word.len() == 64 && word.iter().all(u8::is_ascii_hexdigit) {
            let mut r = [0u8; 32];
            for (i, pair) in word.chunks(2).enumerate() {
                let s = std::str::from_utf8(pair).expect("hex digits are ASCII");
                r[i] = u8::from_str_radix(s, 16).expect("two hex digits");
            }
            out.push(r);
        }
        if out.len() > 64 {
            break;
        }
    }
    out
}

fn same(a: &KeyLog, b: &KeyLog, randoms: &[ClientRandom], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: number of connections");
    for r in randoms {
        assert_eq!(a.get(r), b.get(r), "{what}: secrets of {r:02x?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let (log, bad) = KeyLog::parse(data);
    for m in &bad {
        assert!(
            (1..=lines).contains(&m.line),
            "malformed line {} of {lines}: {m:?}",
            m.line
        );
    }
    let rs = randoms(data);
    for r in &rs {
        if let Some(s) = log.get(r) {
            let any = [
                &s.master,
                &s.client_handshake,
                &s.server_handshake,
                &s.client_traffic,
                &s.server_traffic,
                &s.client_early,
            ]
            .iter()
            .any(|x| x.is_some());
            assert!(any, "random {r:02x?} filed without a secret");
        }
    }
    assert_eq!(log.is_empty(), log.len() == 0);

    let (again, bad_again) = KeyLog::parse(data);
    same(&log, &again, &rs, "parsed twice");
    assert_eq!(bad, bad_again, "parsed twice: malformed lines");

    // Split after a few newlines (the first, one in the middle, the last).
    let newlines: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let picks = [
        newlines.first(),
        newlines.get(newlines.len() / 2),
        newlines.last(),
    ];
    for &nl in picks.iter().flatten() {
        let (a, b) = data.split_at(nl + 1);
        let (mut split, mut bad_split) = KeyLog::parse(a);
        let shift = a.iter().filter(|&&x| x == b'\n').count();
        bad_split.extend(split.add(b).into_iter().map(|m| Malformed {
            line: m.line + shift,
            ..m
        }));
        same(&log, &split, &rs, &format!("split after byte {nl}"));
        assert_eq!(bad, bad_split, "split after byte {nl}: malformed lines");
    }
});
