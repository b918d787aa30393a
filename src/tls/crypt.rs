//! Record protection: the cipher suites wsdissect decrypts, their key schedules (RFC 8446 §7
//! for TLS 1.3, RFC 5246 §6.3 for TLS 1.2) and what opens one record: an AEAD, or AES-CBC with
//! HMAC, MAC-then-encrypt (RFC 5246 §6.2.3.2) or encrypt-then-MAC (RFC 7366). All cryptography
//! is RustCrypto's (`aes-gcm`, `ccm`, `chacha20poly1305`, `aes`, `cbc`, `hkdf`, `hmac`,
//! `sha1`, `sha2`); the AES code uses the CPU's AES instructions when it has them.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac as Mac2};
use sha2::{Sha256, Sha384};

/// The AEAD tag every supported suite appends.
const TAG_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    /// AES-CCM with a 16-byte tag (RFC 8446 §B.4, RFC 6655).
    Aes128Ccm,
    Aes256Ccm,
    /// TLS 1.2 AES-CBC with an HMAC.
    Aes128Cbc(Mac),
    Aes256Cbc(Mac),
}

/// The HMAC of a CBC suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mac {
    Sha1,
    Sha256,
    Sha384,
}

impl Mac {
    fn len(self) -> usize {
        match self {
            Mac::Sha1 => 20,
            Mac::Sha256 => 32,
            Mac::Sha384 => 48,
        }
    }
}

impl Cipher {
    fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes128Ccm | Cipher::Aes128Cbc(_) => 16,
            Cipher::Aes256Gcm
            | Cipher::Aes256Ccm
            | Cipher::ChaCha20Poly1305
            | Cipher::Aes256Cbc(_) => 32,
        }
    }

    fn mac(self) -> Option<Mac> {
        match self {
            Cipher::Aes128Cbc(m) | Cipher::Aes256Cbc(m) => Some(m),
            _ => None,
        }
    }
}

/// The hash of the suite's key schedule (HKDF in TLS 1.3, the PRF in TLS 1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// A cipher suite wsdissect can decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    pub cipher: Cipher,
    pub hash: Hash,
    /// A TLS 1.3 suite (RFC 8446 §B.4); otherwise a TLS 1.2 AEAD suite.
    pub tls13: bool,
}

impl Suite {
    /// The suite with this IANA number, if it is one wsdissect decrypts.
    pub fn from_id(id: u16) -> Option<Suite> {
        use Cipher::*;
        use Hash::*;
        let (cipher, hash, tls13) = match id {
            0x1301 => (Aes128Gcm, Sha256, true),
            0x1302 => (Aes256Gcm, Sha384, true),
            0x1303 => (ChaCha20Poly1305, Sha256, true),
            0x1304 => (Aes128Ccm, Sha256, true),
            // AES-CCM with a 16-byte tag (RFC 6655, RFC 7251).
            0xc09c | 0xc09e | 0xc0ac => (Aes128Ccm, Sha256, false),
            0xc09d | 0xc09f | 0xc0ad => (Aes256Ccm, Sha256, false),
            // (EC)DHE and RSA key exchange with AES-GCM (RFC 5288, 5289).
            0xc02b | 0xc02f | 0x009c | 0x009e => (Aes128Gcm, Sha256, false),
            0xc02c | 0xc030 | 0x009d | 0x009f => (Aes256Gcm, Sha384, false),
            // ChaCha20-Poly1305 (RFC 7905).
            0xcca8..=0xccaa => (ChaCha20Poly1305, Sha256, false),
            // AES-CBC with HMAC-SHA1 (RFC 4492, 5246) and HMAC-SHA256/384 (RFC 5289, 5246).
            0xc009 | 0xc013 | 0x002f | 0x0033 => (Aes128Cbc(Mac::Sha1), Sha256, false),
            0xc00a | 0xc014 | 0x0035 | 0x0039 => (Aes256Cbc(Mac::Sha1), Sha256, false),
            0xc023 | 0xc027 | 0x003c | 0x0067 => (Aes128Cbc(Mac::Sha256), Sha256, false),
            0x003d | 0x006b => (Aes256Cbc(Mac::Sha256), Sha256, false),
            0xc024 | 0xc028 => (Aes256Cbc(Mac::Sha384), Sha384, false),
            _ => return None,
        };
        Some(Suite {
            id,
            cipher,
            hash,
            tls13,
        })
    }
}

impl Suite {
    /// Bytes a record adds to its plaintext besides the 5-byte header: explicit nonce or IV,
    /// tag or MAC, TLS 1.3's inner content type; CBC padding counted at its least (1 byte).
    pub fn record_overhead(self) -> u64 {
        let per_record = match (self.tls13, self.cipher) {
            (true, _) => TAG_LEN + 1,
            (false, Cipher::ChaCha20Poly1305) => TAG_LEN,
            (
                false,
                Cipher::Aes128Gcm | Cipher::Aes256Gcm | Cipher::Aes128Ccm | Cipher::Aes256Ccm,
            ) => 8 + TAG_LEN,
            (false, Cipher::Aes128Cbc(m) | Cipher::Aes256Cbc(m)) => 16 + m.len() + 1,
        };
        per_record as u64
    }
}

/// A record did not authenticate: wrong key, wrong sequence number, or damaged bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadRecord;

#[derive(Clone)]
enum Aead {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Aes128Ccm(Box<Aes128Ccm>),
    Aes256Ccm(Box<Aes256Ccm>),
}

type Aes128Ccm = ccm::Ccm<aes::Aes128, ccm::consts::U16, ccm::consts::U12>;
type Aes256Ccm = ccm::Ccm<aes::Aes256, ccm::consts::U16, ccm::consts::U12>;

impl std::fmt::Debug for Aead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aead(…)")
    }
}

impl Aead {
    fn new(cipher: Cipher, key: &[u8]) -> Option<Aead> {
        Some(match cipher {
            Cipher::Aes128Gcm => Aead::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Cipher::Aes256Gcm => Aead::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Cipher::ChaCha20Poly1305 => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            Cipher::Aes128Ccm => Aead::Aes128Ccm(Box::new(Aes128Ccm::new_from_slice(key).ok()?)),
            Cipher::Aes256Ccm => Aead::Aes256Ccm(Box::new(Aes256Ccm::new_from_slice(key).ok()?)),
            Cipher::Aes128Cbc(_) | Cipher::Aes256Cbc(_) => return None,
        })
    }

    /// Open `body` (ciphertext then tag) in place; the plaintext is `body[..len - 16]`.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], body: &mut [u8]) -> Result<(), BadRecord> {
        let Some(split) = body.len().checked_sub(TAG_LEN) else {
            return Err(BadRecord);
        };
        let (text, tag) = body.split_at_mut(split);
        let tag = aes_gcm::Tag::from_slice(tag);
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        let r = match self {
            Aead::Aes128Gcm(c) => c.decrypt_in_place_detached(nonce, aad, text, tag),
            Aead::Aes256Gcm(c) => c.decrypt_in_place_detached(nonce, aad, text, tag),
            Aead::ChaCha(c) => c.decrypt_in_place_detached(nonce, aad, text, tag),
            Aead::Aes128Ccm(c) => c.decrypt_in_place_detached(nonce, aad, text, tag),
            Aead::Aes256Ccm(c) => c.decrypt_in_place_detached(nonce, aad, text, tag),
        };
        r.map_err(|_| BadRecord)
    }
}

/// How a record's nonce is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonceStyle {
    /// The 12-byte IV XOR the sequence number (TLS 1.3 §5.3; TLS 1.2 ChaCha20, RFC 7905 §2).
    XorSequence,
    /// A 4-byte salt and the 8 explicit bytes that start the record (TLS 1.2 GCM, RFC 5288 §3).
    ExplicitGcm,
}

/// AES in CBC mode, with the key of one direction.
#[derive(Clone)]
enum CbcKey {
    Aes128(Box<aes::Aes128>),
    Aes256(Box<aes::Aes256>),
}

impl std::fmt::Debug for CbcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CbcKey(…)")
    }
}

/// How one direction's records are protected.
#[derive(Clone, Debug)]
enum Protect {
    Aead {
        aead: Aead,
        iv: [u8; 12],
        style: NonceStyle,
        tls13: bool,
    },
    /// TLS 1.2 AES-CBC and HMAC; `etm`: encrypt-then-MAC was negotiated (RFC 7366).
    Cbc {
        key: CbcKey,
        mac_key: Vec<u8>,
        mac: Mac,
        etm: bool,
    },
}

/// One direction's record protection: keys, and the sequence number of the next record
/// (RFC 8446 §5.3, RFC 5246 §6.1).
#[derive(Clone, Debug)]
pub struct RecordKeys {
    protect: Protect,
    pub seq: u64,
}

/// A record opened: its content type and where its plaintext is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    pub content_type: u8,
    pub start: usize,
    pub end: usize,
}

impl RecordKeys {
    /// TLS 1.3: the keys of a traffic secret (RFC 8446 §7.3).
    pub fn tls13(suite: Suite, secret: &[u8]) -> Option<RecordKeys> {
        let key = expand_label(suite.hash, secret, b"key", suite.cipher.key_len())?;
        let iv = expand_label(suite.hash, secret, b"iv", 12)?;
        Some(RecordKeys {
            protect: Protect::Aead {
                aead: Aead::new(suite.cipher, &key)?,
                iv: iv.try_into().ok()?,
                style: NonceStyle::XorSequence,
                tls13: true,
            },
            seq: 0,
        })
    }

    /// TLS 1.2: both directions' keys from the master secret (RFC 5246 §6.3), client's first.
    /// `etm`: the ServerHello accepted encrypt-then-MAC (matters for CBC suites only).
    pub fn tls12(
        suite: Suite,
        master: &[u8],
        client_random: &[u8],
        server_random: &[u8],
        etm: bool,
    ) -> Option<[RecordKeys; 2]> {
        let key_len = suite.cipher.key_len();
        let mac_len = suite.cipher.mac().map_or(0, Mac::len);
        let iv_len = match suite.cipher {
            Cipher::ChaCha20Poly1305 => 12,
            Cipher::Aes128Gcm | Cipher::Aes256Gcm | Cipher::Aes128Ccm | Cipher::Aes256Ccm => 4,
            // TLS 1.1+ sends each record's IV; the key block's IV is not used.
            Cipher::Aes128Cbc(_) | Cipher::Aes256Cbc(_) => 16,
        };
        let seed = [server_random, client_random].concat();
        let mut block = vec![0u8; 2 * (mac_len + key_len + iv_len)];
        prf(suite.hash, master, b"key expansion", &seed, &mut block);
        let (macs, rest) = block.split_at(2 * mac_len);
        let (keys, ivs) = rest.split_at(2 * key_len);
        let side = |i: usize| {
            let key = &keys[i * key_len..(i + 1) * key_len];
            let protect = match suite.cipher {
                Cipher::Aes128Cbc(mac) | Cipher::Aes256Cbc(mac) => Protect::Cbc {
                    key: cbc_key(suite.cipher, key)?,
                    mac_key: macs[i * mac_len..(i + 1) * mac_len].to_vec(),
                    mac,
                    etm,
                },
                _ => {
                    let mut iv = [0u8; 12];
                    iv[..iv_len].copy_from_slice(&ivs[i * iv_len..(i + 1) * iv_len]);
                    let style = if iv_len == 12 {
                        NonceStyle::XorSequence
                    } else {
                        NonceStyle::ExplicitGcm
                    };
                    Protect::Aead {
                        aead: Aead::new(suite.cipher, key)?,
                        iv,
                        style,
                        tls13: false,
                    }
                }
            };
            Some(RecordKeys { protect, seq: 0 })
        };
        Some([side(0)?, side(1)?])
    }

    /// Open one record (`header` is its 5-byte header, `body` the rest) with the current
    /// sequence number; the number advances only when the record authenticates.
    pub fn open(&mut self, header: &[u8; 5], body: &mut [u8]) -> Result<Opened, BadRecord> {
        let opened = self.open_at(self.seq, header, body)?;
        self.seq += 1;
        Ok(opened)
    }

    fn open_at(&self, seq: u64, header: &[u8; 5], body: &mut [u8]) -> Result<Opened, BadRecord> {
        match &self.protect {
            Protect::Aead {
                aead,
                iv,
                style,
                tls13,
            } => open_aead(aead, *iv, *style, *tls13, seq, header, body),
            Protect::Cbc {
                key,
                mac_key,
                mac,
                etm,
            } => open_cbc(key, mac_key, *mac, *etm, seq, header, body),
        }
    }

    /// After lost records: find the sequence number (from the current one, at most `tries`
    /// ahead) under which this record authenticates, and continue from there. Returns how many
    /// records were skipped.
    pub fn open_after_loss(
        &mut self,
        header: &[u8; 5],
        body: &mut [u8],
        tries: u64,
    ) -> Option<(u64, Opened)> {
        // Decryption is in place: keep the ciphertext to try the next sequence number.
        let copy = body.to_vec();
        for skipped in 0..tries {
            let seq = self.seq + skipped;
            if let Ok(opened) = self.open_at(seq, header, body) {
                self.seq = seq + 1;
                return Some((skipped, opened));
            }
            body.copy_from_slice(&copy);
        }
        None
    }
}

/// Open an AEAD record in place.
fn open_aead(
    aead: &Aead,
    iv: [u8; 12],
    style: NonceStyle,
    tls13: bool,
    seq: u64,
    header: &[u8; 5],
    body: &mut [u8],
) -> Result<Opened, BadRecord> {
    let mut nonce = iv;
    let ciphertext_start = match style {
        NonceStyle::XorSequence => {
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
            0
        }
        NonceStyle::ExplicitGcm => {
            nonce[4..].copy_from_slice(body.get(..8).ok_or(BadRecord)?);
            8
        }
    };
    let body = &mut body[ciphertext_start..];
    if tls13 {
        // The additional data is the record header as sent (RFC 8446 §5.2).
        aead.open(&nonce, header, body)?;
        let text = &body[..body.len() - TAG_LEN];
        // TLSInnerPlaintext: content, the real content type, then zero padding.
        let type_at = text.iter().rposition(|&b| b != 0).ok_or(BadRecord)?;
        return Ok(Opened {
            content_type: text[type_at],
            start: ciphertext_start,
            end: ciphertext_start + type_at,
        });
    }
    let plain_len = body.len().checked_sub(TAG_LEN).ok_or(BadRecord)?;
    aead.open(&nonce, &tls12_mac_header(seq, header, plain_len), body)?;
    Ok(Opened {
        content_type: header[0],
        start: ciphertext_start,
        end: ciphertext_start + plain_len,
    })
}

/// seq_num, type, version and a length: what TLS 1.2 authenticates besides the content
/// (RFC 5246 §6.2.3.1 and §6.2.3.3).
fn tls12_mac_header(seq: u64, header: &[u8; 5], len: usize) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..8].copy_from_slice(&seq.to_be_bytes());
    h[8..11].copy_from_slice(&header[..3]);
    h[11..].copy_from_slice(&(len as u16).to_be_bytes());
    h
}

/// Open an AES-CBC record in place: IV, ciphertext, and the MAC inside the encryption
/// (MAC-then-encrypt, RFC 5246 §6.2.3.2) or after it (encrypt-then-MAC, RFC 7366 §3).
fn open_cbc(
    key: &CbcKey,
    mac_key: &[u8],
    mac: Mac,
    etm: bool,
    seq: u64,
    header: &[u8; 5],
    body: &mut [u8],
) -> Result<Opened, BadRecord> {
    const IV: usize = 16;
    let mac_len = mac.len();
    let (cipher_end, plain_with_mac_end) = if etm {
        let end = body.len().checked_sub(mac_len).ok_or(BadRecord)?;
        let (covered, tag) = body.split_at(end);
        verify_mac(
            mac,
            mac_key,
            &tls12_mac_header(seq, header, end),
            covered,
            tag,
        )?;
        (end, None)
    } else {
        (body.len(), Some(()))
    };
    let (iv, text) = body[..cipher_end].split_at_mut(IV.min(cipher_end));
    if iv.len() != IV || text.is_empty() || text.len() % 16 != 0 {
        return Err(BadRecord);
    }
    cbc_decrypt(key, iv, text);
    // Padding: its length byte last, then that many bytes of the same value.
    let pad = usize::from(*text.last().ok_or(BadRecord)?);
    let unpadded = text.len().checked_sub(pad + 1).ok_or(BadRecord)?;
    if text[unpadded..].iter().any(|&b| usize::from(b) != pad) {
        return Err(BadRecord);
    }
    let plain_len = match plain_with_mac_end {
        None => unpadded,
        Some(()) => {
            let plain_len = unpadded.checked_sub(mac_len).ok_or(BadRecord)?;
            let (plain, tag) = text[..unpadded].split_at(plain_len);
            verify_mac(
                mac,
                mac_key,
                &tls12_mac_header(seq, header, plain_len),
                plain,
                tag,
            )?;
            plain_len
        }
    };
    Ok(Opened {
        content_type: header[0],
        start: IV,
        end: IV + plain_len,
    })
}

fn cbc_key(cipher: Cipher, key: &[u8]) -> Option<CbcKey> {
    use aes::cipher::KeyInit as _;
    Some(match cipher {
        Cipher::Aes128Cbc(_) => CbcKey::Aes128(Box::new(aes::Aes128::new_from_slice(key).ok()?)),
        _ => CbcKey::Aes256(Box::new(aes::Aes256::new_from_slice(key).ok()?)),
    })
}

fn cbc_decrypt(key: &CbcKey, iv: &[u8], text: &mut [u8]) {
    use cbc::cipher::consts::U16;
    use cbc::cipher::{BlockCipher, BlockDecrypt, BlockDecryptMut, BlockSizeUser, InnerIvInit};
    fn run<C: BlockCipher + BlockDecrypt + BlockSizeUser<BlockSize = U16> + Clone>(
        key: &C,
        iv: &[u8],
        text: &mut [u8],
    ) {
        let Ok(mut d) = cbc::Decryptor::<C>::inner_iv_slice_init(key.clone(), iv) else {
            return; // the caller checked the IV is one block
        };
        for block in text.chunks_exact_mut(16) {
            d.decrypt_block_mut(aes::Block::from_mut_slice(block));
        }
    }
    match key {
        CbcKey::Aes128(k) => run(&**k, iv, text),
        CbcKey::Aes256(k) => run(&**k, iv, text),
    }
}

/// Check an HMAC over the TLS 1.2 MAC header and `covered`, without stopping at the first
/// differing byte.
fn verify_mac(
    mac: Mac,
    key: &[u8],
    mac_header: &[u8],
    covered: &[u8],
    tag: &[u8],
) -> Result<(), BadRecord> {
    let expected = hmac(mac, key, &[mac_header, covered]);
    let same = expected.len() == tag.len()
        && expected
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0;
    same.then_some(()).ok_or(BadRecord)
}

fn hmac(mac: Mac, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac2 + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
            return Vec::new();
        };
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match mac {
        Mac::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts),
        Mac::Sha256 => run::<Hmac<Sha256>>(key, parts),
        Mac::Sha384 => run::<Hmac<Sha384>>(key, parts),
    }
}

/// TLS 1.3 KeyUpdate: the next traffic secret (RFC 8446 §7.2).
pub fn next_traffic_secret(hash: Hash, secret: &[u8]) -> Option<Vec<u8>> {
    expand_label(hash, secret, b"traffic upd", hash.len())
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hash: Hash, secret: &[u8], label: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    let mut out = vec![0u8; len];
    match hash {
        Hash::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
        Hash::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
    }
    Some(out)
}

/// The TLS 1.2 PRF (RFC 5246 §5) with the suite's hash.
fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let seed = [label, seed].concat();
    match hash {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(secret, &seed, out),
        Hash::Sha384 => p_hash::<Hmac<Sha384>>(secret, &seed, out),
    }
}

/// P_hash: HMAC(secret, A(i) + seed) for A(1), A(2)…, where A(0) = seed, A(i) = HMAC(A(i-1)).
fn p_hash<M: Mac2 + KeyInit + Clone>(secret: &[u8], seed: &[u8], out: &mut [u8]) {
    let Ok(mac) = <M as KeyInit>::new_from_slice(secret) else {
        return; // HMAC takes a key of any length.
    };
    let mut a = seed.to_vec();
    let hash_len = <M as hmac::digest::OutputSizeUser>::output_size();
    for chunk in out.chunks_mut(hash_len) {
        let mut m = mac.clone();
        m.update(&a);
        a = m.finalize().into_bytes().to_vec();
        let mut m = mac.clone();
        m.update(&a);
        m.update(seed);
        let block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (Simple 1-RTT Handshake): the server's handshake traffic secret gives this
    /// key and IV, and its first protected record (EncryptedExtensions…) opens with them.
    #[test]
    fn rfc8448_server_handshake_keys() {
        let secret =
            hex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        let suite = Suite::from_id(0x1301).unwrap();
        let key = expand_label(suite.hash, &secret, b"key", 16).unwrap();
        let iv = expand_label(suite.hash, &secret, b"iv", 12).unwrap();
        assert_eq!(key, hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
        assert_eq!(iv, hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    /// Seal a record the way a TLS stack does, with the same AEAD crates.
    fn aead_of(keys: &RecordKeys) -> (&Aead, [u8; 12]) {
        match &keys.protect {
            Protect::Aead { aead, iv, .. } => (aead, *iv),
            Protect::Cbc { .. } => panic!("an AEAD suite expected"),
        }
    }

    fn seal(keys: &RecordKeys, seq: u64, content_type: u8, data: &[u8]) -> Vec<u8> {
        let (aead, iv) = aead_of(keys);
        let mut nonce = iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let mut inner = data.to_vec();
        inner.push(content_type);
        inner.extend_from_slice(&[0, 0, 0]); // padding
        let len = (inner.len() + TAG_LEN) as u16;
        let mut record = vec![23, 3, 3];
        record.extend_from_slice(&len.to_be_bytes());
        let aad = record.clone();
        let n = aes_gcm::Nonce::from_slice(&nonce);
        let tag = match aead {
            Aead::Aes128Gcm(c) => c.encrypt_in_place_detached(n, &aad, &mut inner),
            Aead::Aes256Gcm(c) => c.encrypt_in_place_detached(n, &aad, &mut inner),
            Aead::ChaCha(c) => c.encrypt_in_place_detached(n, &aad, &mut inner),
            Aead::Aes128Ccm(c) => c.encrypt_in_place_detached(n, &aad, &mut inner),
            Aead::Aes256Ccm(c) => c.encrypt_in_place_detached(n, &aad, &mut inner),
        }
        .unwrap();
        record.extend_from_slice(&inner);
        record.extend_from_slice(&tag);
        record
    }

    #[test]
    fn tls13_records_open_in_sequence_and_after_loss() {
        for id in [0x1301, 0x1302, 0x1303, 0x1304] {
            let suite = Suite::from_id(id).unwrap();
            let secret = vec![0x42; suite.hash.len()];
            let sender = RecordKeys::tls13(suite, &secret).unwrap();
            let mut receiver = RecordKeys::tls13(suite, &secret).unwrap();
            for (seq, data) in [(0, &b"hello"[..]), (1, b""), (4, b"after a loss")] {
                let record = seal(&sender, seq, 23, data);
                let header: [u8; 5] = record[..5].try_into().unwrap();
                let mut body = record[5..].to_vec();
                let opened = if seq == 4 {
                    assert_eq!(receiver.open(&header, &mut body.clone()), Err(BadRecord));
                    let (skipped, opened) =
                        receiver.open_after_loss(&header, &mut body, 8).unwrap();
                    assert_eq!(skipped, 2);
                    opened
                } else {
                    receiver.open(&header, &mut body).unwrap()
                };
                assert_eq!(opened.content_type, 23);
                assert_eq!(
                    &body[opened.start..opened.end],
                    data,
                    "suite {id:#x} seq {seq}"
                );
                assert_eq!(receiver.seq, seq + 1);
            }
        }
    }

    #[test]
    fn tls12_gcm_record_opens_with_explicit_nonce_and_sequence_in_aad() {
        let suite = Suite::from_id(0xc02f).unwrap();
        let [client, _] = RecordKeys::tls12(suite, &[9; 48], &[1; 32], &[2; 32], false).unwrap();
        let mut receiver = client.clone();
        let data = b"GET / HTTP/1.1";
        let explicit = 7u64.to_be_bytes();
        let (aead, iv) = aead_of(&client);
        let mut nonce = iv;
        nonce[4..].copy_from_slice(&explicit);
        let header = [23u8, 3, 3, 0, (8 + data.len() + TAG_LEN) as u8];
        let mut aad = [0u8; 13];
        aad[8..11].copy_from_slice(&header[..3]);
        aad[11..].copy_from_slice(&(data.len() as u16).to_be_bytes());
        let mut text = data.to_vec();
        let Aead::Aes128Gcm(c) = aead else {
            panic!("AES-128-GCM expected")
        };
        let tag = c
            .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), &aad, &mut text)
            .unwrap();
        let mut body = explicit.to_vec();
        body.extend_from_slice(&text);
        body.extend_from_slice(&tag);
        let opened = receiver.open(&header, &mut body).unwrap();
        assert_eq!(&body[opened.start..opened.end], data);
        assert_eq!(opened.content_type, 23);
    }

    /// Seal a TLS 1.2 CBC record as RFC 5246 §6.2.3.2 (MAC-then-encrypt) or RFC 7366 (encrypt-
    /// then-MAC) says, with the same crates.
    fn seal_cbc(keys: &RecordKeys, seq: u64, data: &[u8]) -> Vec<u8> {
        use cbc::cipher::{BlockEncryptMut, InnerIvInit};
        let Protect::Cbc {
            key,
            mac_key,
            mac,
            etm,
        } = &keys.protect
        else {
            panic!("a CBC suite expected")
        };
        let CbcKey::Aes128(k) = key else {
            panic!("AES-128")
        };
        let header = |len: usize| [23u8, 3, 3, (len >> 8) as u8, len as u8];
        let mut inner = data.to_vec();
        if !etm {
            inner.extend(hmac(
                *mac,
                mac_key,
                &[
                    &tls12_mac_header(seq, &header(data.len()), data.len()),
                    data,
                ],
            ));
        }
        let pad = 15 - inner.len() % 16;
        inner.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let iv = [0x5a; 16];
        let mut enc = cbc::Encryptor::<aes::Aes128>::inner_iv_slice_init(*k.clone(), &iv).unwrap();
        for b in inner.chunks_exact_mut(16) {
            enc.encrypt_block_mut(aes::Block::from_mut_slice(b));
        }
        let mut body = iv.to_vec();
        body.extend(inner);
        if *etm {
            let tag = hmac(
                *mac,
                mac_key,
                &[
                    &tls12_mac_header(seq, &header(body.len()), body.len()),
                    &body,
                ],
            );
            body.extend(tag);
        }
        let mut record = header(body.len()).to_vec();
        record.extend(body);
        record
    }

    #[test]
    fn tls12_cbc_records_open_with_mac_then_encrypt_and_encrypt_then_mac() {
        for (id, etm) in [
            (0xc013, false),
            (0xc013, true),
            (0xc027, true),
            (0xc027, false),
        ] {
            let suite = Suite::from_id(id).unwrap();
            let [client, _] = RecordKeys::tls12(suite, &[3; 48], &[1; 32], &[2; 32], etm).unwrap();
            let mut receiver = client.clone();
            for (seq, data) in [
                (0, &b"GET /chat HTTP/1.1"[..]),
                (1, &[0u8; 0][..]),
                (2, &[7u8; 100][..]),
            ] {
                let record = seal_cbc(&client, seq, data);
                let header: [u8; 5] = record[..5].try_into().unwrap();
                let mut body = record[5..].to_vec();
                let opened = receiver.open(&header, &mut body).unwrap();
                assert_eq!(
                    &body[opened.start..opened.end],
                    data,
                    "{id:#x} etm {etm} seq {seq}"
                );
            }
            // The wrong mode (or a flipped byte) does not authenticate.
            let mut other =
                RecordKeys::tls12(suite, &[3; 48], &[1; 32], &[2; 32], !etm).unwrap()[0].clone();
            let record = seal_cbc(&client, 0, b"x");
            let header: [u8; 5] = record[..5].try_into().unwrap();
            assert_eq!(
                other.open(&header, &mut record[5..].to_vec()),
                Err(BadRecord)
            );
        }
    }

    #[test]
    fn a_wrong_key_does_not_open_and_does_not_advance() {
        let suite = Suite::from_id(0x1303).unwrap();
        let mut keys = RecordKeys::tls13(suite, &[7; 32]).unwrap();
        let header = [23, 3, 3, 0, 20];
        let mut body = vec![0u8; 20];
        assert_eq!(keys.open(&header, &mut body), Err(BadRecord));
        assert_eq!(keys.seq, 0);
        let mut short = vec![0u8; 3];
        assert_eq!(keys.open(&header, &mut short), Err(BadRecord));
    }

    /// RFC 5246's PRF with SHA-256: the widely used test vector (from the IETF TLS list,
    /// also in Go's crypto/tls tests).
    #[test]
    fn tls12_prf_sha256_vector() {
        let secret = hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        prf(Hash::Sha256, &secret, b"test label", &seed, &mut out);
        assert_eq!(
            out.to_vec(),
            hex("e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01 87 34 7b 66")
        );
    }
}
