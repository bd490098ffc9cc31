//! The failover layer.
