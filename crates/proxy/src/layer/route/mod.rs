//! The route layer.
