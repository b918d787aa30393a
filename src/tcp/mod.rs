//! TCP: the flow table (one entry per connection, port reuse aware) and per-direction
//! reassembly. Knows nothing of HTTP or WebSocket: it hands ordered bytes to an `Application`.

pub mod flow;
pub mod reassembly;

pub use flow::{Application, EndReason, FlowMeta, FlowTable, FlowTableLimits};
pub use reassembly::{GapCause, Reassembler, StreamEvent};
