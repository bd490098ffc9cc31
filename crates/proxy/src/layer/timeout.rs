//! The timeout layer.
