//! One integration test binary (faster to build and link than one per file).

mod cli;
mod common;
mod docs;
mod explain;
mod h2;
mod handshake;
mod hostile_failures;
mod hostile_http;
mod hostile_net;
mod hostile_tcp;
mod json;
mod layers;
mod live;
mod midstream;
mod regress;
mod report;
mod rules;
mod samples;
mod several;
mod threads;
mod tls;
mod tshark;
mod tshark_h2;
mod tshark_messages;
mod views;
mod zeek;
