//! The shadow layer.
