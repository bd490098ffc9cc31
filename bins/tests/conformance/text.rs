use super::Case;

/// Placeholder until the text table lands.
pub const CASES: &[Case] = &[];
