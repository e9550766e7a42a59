//! Library side of the `smn` CLI.
//!
//! Today: device tools over int8 model blobs (inspect, infer, simulate,
//! random test models). Training and evaluation land with the host issue.
pub mod data;
pub mod device_tools;
