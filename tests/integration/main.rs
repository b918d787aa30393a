//! One integration test binary (faster to build and link than one per file).

mod common;
mod json;
mod midstream;
mod rules;
mod samples;
mod tshark;
mod zeek;
