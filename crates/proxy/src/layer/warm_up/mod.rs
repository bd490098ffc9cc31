//! The warm_up layer.
