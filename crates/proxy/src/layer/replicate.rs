//! The replicate layer.
