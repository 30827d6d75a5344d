//! Cosign's signature formats, read and written as cosign 2.5.0 does.
//!
//! Today: signatures over blobs ([`blob`]), as `cosign sign-blob` / `cosign verify-blob` make
//! and check them with a key. Image signatures (the simple-signing payload in a registry) will
//! live next to it.

pub mod blob;
