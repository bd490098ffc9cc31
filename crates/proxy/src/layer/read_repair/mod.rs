//! The read_repair layer.
