//! TLS under HTTP: find a connection's handshake, take its secrets from a key log, and decrypt
//! its records into the byte stream the layers above read. Pure: bytes and secrets in,
//! plaintext and findings out.

pub mod crypt;
pub mod hello;
pub mod keylog;
pub mod record;
pub mod session;
