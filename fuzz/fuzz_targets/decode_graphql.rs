//! The graphql decoder (decode/graphql.rs) over arbitrary message sequences: see
//! decode_stompgql_common.rs for the input format and the oracles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::decode::Protocol;

#[path = "decode_stompgql_common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::run(data, Protocol::GraphqlTransportWs, "graphql-ws-malformed"));
