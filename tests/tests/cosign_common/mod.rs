//! Shared by `cosign_image.rs` and `cosign_attest.rs`: a real distribution 2.8 registry with
//! small test images pushed by the registry client, the captured cosign test keys, and
//! runners for cosign 2.5.0 and tollgate against that registry.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tollgate_e2e::registry::Registry;
use tollgate_e2e::{Run, Tollgate, cosign_bin, testdata};
use tollgate_registry::{BlockingClient, Digest, MediaType, Options, Reference};

/// Key `a` (an independent implementation of cosign's key format) and its password.
pub const KEY_A: (&str, &str) = ("a", "pw-a");
/// Key `c` (made by `cosign generate-key-pair`) and its password.
pub const KEY_C: (&str, &str) = ("c", "pw-c");

pub fn private_key(key: (&str, &str)) -> PathBuf {
    testdata(&format!("cosign/test-only-{}.key", key.0))
}

pub fn public_key(key: (&str, &str)) -> PathBuf {
    testdata(&format!("cosign/test-only-{}.pub", key.0))
}

pub fn empty_trusted_root() -> PathBuf {
    testdata("cosign/empty-trusted-root.json")
}

pub fn client() -> BlockingClient {
    BlockingClient::new(Options::plain_http()).unwrap()
}

/// An image pushed to the test registry.
pub struct Pushed {
    /// `host/repo:tag`.
    pub tagged: String,
    /// `host/repo@sha256:…`.
    pub by_digest: String,
    /// `host/repo`.
    pub repository: String,
    pub digest: Digest,
    pub manifest: Vec<u8>,
    pub config: Digest,
    pub layer: Digest,
}

/// Pushes a one-layer OCI image (config and layer from `seed`) to `repo:tag`.
pub fn push_image(reg: &Registry, repo_tag: &str, seed: u64) -> Pushed {
    let c = client();
    let r: Reference = reg.reference(repo_tag).parse().unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":{seed}}}"#
    )
    .into_bytes();
    let config_digest = Digest::sha256(&config);
    c.push_blob(&r, config.clone(), &config_digest).unwrap();
    let layer = tollgate_e2e::bytes(4096, seed);
    let layer_digest = Digest::sha256(&layer);
    c.push_blob(&r, layer.clone(), &layer_digest).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let media_type = MediaType::parse(MediaType::OCI_MANIFEST).unwrap();
    let digest = c.put_manifest(&r, &manifest, &media_type).unwrap();
    let repository = reg.reference(repo_tag.split(':').next().unwrap());
    Pushed {
        tagged: reg.reference(repo_tag),
        by_digest: format!("{repository}@{digest}"),
        repository,
        digest,
        manifest,
        config: config_digest,
        layer: layer_digest,
    }
}

/// The tag-schema / attachment tag of `digest` with `suffix` (`sig`, `att` or empty).
pub fn tag(digest: &Digest, suffix: &str) -> String {
    let base = format!("sha256-{}", digest.hex());
    if suffix.is_empty() {
        base
    } else {
        format!("{base}.{suffix}")
    }
}

/// Runs cosign 2.5.0 with `COSIGN_PASSWORD`, offline from any Sigstore service.
pub fn cosign(args: &[&str], password: &str) -> Output {
    Command::new(cosign_bin())
        .args(args)
        .env("COSIGN_PASSWORD", password)
        .env_remove("TOLLGATE_PASSWORD")
        // No TUF fetches from the test machine's home directory.
        .env("TUF_ROOT", std::env::temp_dir().join("tollgate-e2e-no-tuf"))
        .stdin(Stdio::null())
        .output()
        .expect("cannot run cosign")
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn cosign_ok(args: &[&str], password: &str) -> Output {
    let out = cosign(args, password);
    assert!(
        out.status.success(),
        "cosign {args:?} failed:\n{}",
        text(&out)
    );
    out
}

pub fn cosign_fails(args: &[&str], password: &str) -> Output {
    let out = cosign(args, password);
    assert!(
        !out.status.success(),
        "cosign {args:?} succeeded but should not:\n{}",
        text(&out)
    );
    out
}

/// `tollgate ARGS --plain-http` with `TOLLGATE_PASSWORD` set to `password`.
pub fn tollgate(args: &[&str], password: &str) -> Run {
    let run = Tollgate::new(args)
        .arg("--plain-http")
        .env("TOLLGATE_PASSWORD", password)
        .run();
    run.assert_no_panic();
    run
}
