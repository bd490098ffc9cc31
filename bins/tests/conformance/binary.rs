use super::Case;

/// Placeholder until the binary table lands.
pub const CASES: &[Case] = &[];
