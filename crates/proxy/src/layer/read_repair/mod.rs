//! The read_repair layer.

pub(crate) mod multi_get;
pub(crate) mod write_back;
