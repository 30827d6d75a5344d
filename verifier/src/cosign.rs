//! Cosign's signature formats, read and written as cosign 2.5.0 does.
//!
//! Today: signatures over blobs ([`blob`]), as `cosign sign-blob` / `cosign verify-blob` make
//! and check them with a key, and image signatures and attestations ([`image`]: the
//! simple-signing payload, `.sig`/`.att` layers, referrer bundles), verified with a key from
//! the bytes a registry serves.

pub mod blob;
pub mod image;
