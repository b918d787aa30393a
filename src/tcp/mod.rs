//! TCP: the flow table (one entry per connection, port reuse aware) and per-direction
//! reassembly. Knows nothing of HTTP or WebSocket: it hands ordered bytes to an `Application`.

pub mod flow;
pub mod note;
pub mod reassembly;

pub use flow::{Application, EndReason, FlowMeta, FlowTable, FlowTableLimits};
pub use note::{Control, Doubt, Note, Refusal};
pub use reassembly::{GapCause, Incoming, Reassembler, StreamEvent};
