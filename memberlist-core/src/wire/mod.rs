//! Go-compatible wire format.
