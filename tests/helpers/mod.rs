//! Test helpers: real servers on 127.0.0.1 that behave like portals in every
//! way the prober must tell apart, and fixtures shared by the test binaries.

pub mod contract;
pub mod emulator;
pub mod fixtures;
pub mod gateway;
pub mod portal;
pub mod proxy;
pub mod template;
pub mod wrappers;
