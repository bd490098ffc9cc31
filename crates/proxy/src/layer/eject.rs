//! The eject layer.
