//! The sans-I/O protocol machine: SWIM with the Lifeguard extensions, exactly as Go
//! memberlist times and orders things.

pub mod awareness;
pub mod broadcast;
pub mod suspicion;
pub mod timing;
