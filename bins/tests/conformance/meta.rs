use super::Case;

/// Placeholder until the meta table lands.
pub const CASES: &[Case] = &[];
