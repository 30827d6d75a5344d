//! `tollgate attest` / `tollgate verify attestation`: in-toto attestations of images in a
//! registry, in cosign's layouts (legacy `sha256-<hex>.att` and Sigstore bundle referrers).

use std::process::ExitCode;

use clap::Args;

use crate::cmd::registry::RegistryArgs;

/// Attach a signed in-toto attestation to an image, as `cosign attest` does.
#[derive(Debug, Args)]
pub(crate) struct AttestArgs {
    /// The image: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// Verify an image's attestations of one predicate type and print the verified statement.
#[derive(Debug, Args)]
pub(crate) struct VerifyAttestationArgs {
    /// The image: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...
    #[arg(value_name = "REF")]
    pub(crate) reference: String,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

pub(crate) fn attest(_args: &AttestArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tollgate attest is not implemented yet")
}

pub(crate) fn verify(_args: &VerifyAttestationArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tollgate verify attestation is not implemented yet")
}
