//! End to end with skopeo 1.18 (containers/image, as CRI-O and podman verify) against a real
//! CNCF distribution registry: skopeo's sigstore signatures (`--sign-by-sigstore-private-key`)
//! pass `tollgate verify image`, and tollgate's legacy signatures (`tollgate sign image
//! --format legacy`) pass a `policy.json` `sigstoreSigned` requirement with a registries.d
//! entry `use-sigstore-attachments: true`; a signature copied with the image to another
//! repository, or checked with another key, is rejected by both. A missing skopeo fails the
//! test; `scripts/install-skopeo` installs it.

use std::fs;
use std::path::PathBuf;

use serde_json::json;
use tollgate_e2e::registry::Registry;
use tollgate_e2e::{Tollgate, bytes, skopeo, skopeo_run, testdata};

fn vector(name: &str) -> String {
    testdata(&format!("cosign/{name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A one-layer OCI image layout at `<dir>/img:v1`, and the policies and registries.d skopeo
/// needs for `registry`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(registry: &Registry) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        fs::create_dir_all(img.join("blobs/sha256")).unwrap();
        fs::write(img.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let put = |data: &[u8]| {
            let d = sha256_digest(data);
            fs::write(img.join("blobs/sha256").join(&d[7..]), data).unwrap();
            json!({"digest": d, "size": data.len()})
        };
        let layer = bytes(50_000, 9);
        let l = put(&layer);
        let config = json!({"architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [l["digest"]]}});
        let c = put(config.to_string().as_bytes());
        let manifest = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c["digest"], "size": c["size"]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l["digest"], "size": l["size"]}]});
        let m = put(manifest.to_string().as_bytes());
        let index = json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m["digest"], "size": m["size"],
            "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
        fs::write(img.join("index.json"), index.to_string()).unwrap();

        let host = registry.host();
        fs::write(
            dir.path().join("open.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        fs::create_dir(dir.path().join("registries.d")).unwrap();
        fs::write(
            dir.path().join("registries.d/local.yaml"),
            format!("docker:\n  {host}:\n    use-sigstore-attachments: true\n"),
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    /// A `sigstoreSigned` policy for the registry host requiring `key`, with `identity` as
    /// `signedIdentity` (`None`: the default, matchRepoDigestOrExact).
    fn policy(&self, registry: &Registry, key: &str, identity: Option<&str>) -> String {
        let mut requirement = json!({"type": "sigstoreSigned", "keyPath": key});
        if let Some(identity) = identity {
            requirement["signedIdentity"] = json!({"type": identity});
        }
        let policy = json!({"default": [{"type": "reject"}],
            "transports": {"docker": {registry.host(): [requirement]}}});
        let name = format!("policy-{}.json", fastname(key, identity));
        fs::write(self.path(&name), policy.to_string()).unwrap();
        self.arg(&name)
    }

    /// `skopeo copy` of the local layout to `docker://REF`, optionally signing.
    fn push(&self, reference: &str, sign: &[&str]) {
        let dest = format!("docker://{reference}");
        let oci = format!("oci:{}:v1", self.arg("img"));
        let head = [
            "--policy",
            &self.arg("open.json"),
            "--registries.d",
            &self.arg("registries.d"),
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ];
        skopeo(&[&head[..], sign, &[&oci, &dest]].concat());
    }

    /// `skopeo copy docker://REF oci:…` under `policy`: whether skopeo accepts the image.
    fn pull(&self, policy: &str, reference: &str) -> (bool, String) {
        let out_dir = self.path(&format!("pulled-{}", fastname(reference, None)));
        let dest = format!("oci:{}:x", out_dir.display());
        let out = skopeo_run(&[
            "--policy",
            policy,
            "--registries.d",
            &self.arg("registries.d"),
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--remove-signatures",
            &format!("docker://{reference}"),
            &dest,
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn fastname(a: &str, b: Option<&str>) -> String {
    sha256_digest(format!("{a}{b:?}").as_bytes())[7..19].to_owned()
}

/// `sha256:<hex>` of `data` (sha256sum, so the test does not share tollgate's code).
fn sha256_digest(data: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    format!("sha256:{}", &String::from_utf8(out.stdout).unwrap()[..64])
}

fn verify_image(reference: &str, key: &str, extra: &[&str]) -> tollgate_e2e::Run {
    Tollgate::new(["verify", "image", reference, "--key", key, "--plain-http"])
        .args(extra)
        .run()
}

#[test]
fn skopeo_sigstore_signatures_pass_tollgate_verify_image() {
    let registry = Registry::start();
    let setup = Setup::new(&registry);
    let passphrase = setup.path("pass-a");
    fs::write(&passphrase, "pw-a").unwrap();
    let reference = registry.reference("demo/app:v1");
    setup.push(
        &reference,
        &[
            "--sign-by-sigstore-private-key",
            &vector("test-only-a.key"),
            "--sign-passphrase-file",
            passphrase.to_str().unwrap(),
        ],
    );

    // skopeo signs repo:tag, so even the exact identity rule accepts it.
    for identity in ["repo", "exact"] {
        let run = verify_image(
            &reference,
            &vector("test-only-a.pub"),
            &["--identity", identity],
        );
        let out = run.ok();
        assert!(
            out.starts_with(&format!("verified: {reference} (sha256:")),
            "{out}"
        );
    }
    // Another key: rejected, saying why.
    let run = verify_image(&reference, &vector("test-only-c.pub"), &[]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("does not verify with key"),
        "{}",
        run.stdout
    );

    // Copied with its signature to another repository: skopeo's identity names demo/app.
    let other = registry.reference("demo/copy:v1");
    skopeo(&[
        "--policy",
        &setup.arg("open.json"),
        "--registries.d",
        &setup.arg("registries.d"),
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("docker://{other}"),
    ]);
    let run = verify_image(&other, &vector("test-only-a.pub"), &[]);
    run.assert_code(1);
    assert!(run.stdout.contains("demo/app"), "{}", run.stdout);
}

#[test]
fn tollgate_legacy_signatures_pass_skopeo_sigstore_signed_policy() {
    let registry = Registry::start();
    let setup = Setup::new(&registry);
    let reference = registry.reference("demo/signed:v1");
    setup.push(&reference, &[]);
    let policy_c = setup.policy(
        &registry,
        &vector("test-only-c.pub"),
        Some("matchRepository"),
    );
    let (ok, err) = setup.pull(&policy_c, &reference);
    assert!(
        !ok && err.contains("no signature exists"),
        "unsigned: {err}"
    );

    Tollgate::new([
        "sign",
        "image",
        &reference,
        "--key",
        &vector("test-only-c.key"),
        "--format",
        "legacy",
        "--plain-http",
    ])
    .env("TOLLGATE_PASSWORD", "pw-c")
    .run()
    .ok();

    // tollgate signs the repository (cosign's identity): skopeo's matchRepository accepts it.
    let (ok, err) = setup.pull(&policy_c, &reference);
    assert!(ok, "skopeo rejected tollgate's signature: {err}");
    // Another key in the policy: rejected.
    let policy_a = setup.policy(
        &registry,
        &vector("test-only-a.pub"),
        Some("matchRepository"),
    );
    let (ok, err) = setup.pull(&policy_a, &reference);
    assert!(!ok && err.contains("rejected"), "{err}");
    // skopeo's default identity rule (matchRepoDigestOrExact) wants repo:tag or a digest
    // reference in the signature, so a repository-only signature (tollgate's, as cosign's) is
    // refused by it: documented in docs/oci.md.
    let policy_default = setup.policy(&registry, &vector("test-only-c.pub"), None);
    let (ok, err) = setup.pull(&policy_default, &reference);
    assert!(!ok && err.contains("is not accepted"), "{err}");
    // Signing REPO:TAG explicitly (cosign's --sign-container-identity) satisfies it, and
    // tollgate's default rule (repository) still accepts that signature.
    let tagged = registry.reference("demo/tagged:v1");
    setup.push(&tagged, &[]);
    Tollgate::new([
        "sign",
        "image",
        &tagged,
        "--key",
        &vector("test-only-c.key"),
        "--format",
        "legacy",
        "--sign-container-identity",
        &tagged,
        "--plain-http",
    ])
    .env("TOLLGATE_PASSWORD", "pw-c")
    .run()
    .ok();
    let (ok, err) = setup.pull(&policy_default, &tagged);
    assert!(
        ok,
        "skopeo's default rule rejected a REPO:TAG signature: {err}"
    );
    verify_image(&tagged, &vector("test-only-c.pub"), &[]).ok();

    // Copied with its signature to another repository: the signed identity no longer matches.
    let other = registry.reference("demo/elsewhere:v1");
    skopeo(&[
        "--policy",
        &setup.arg("open.json"),
        "--registries.d",
        &setup.arg("registries.d"),
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("docker://{other}"),
    ]);
    let (ok, err) = setup.pull(&policy_c, &other);
    assert!(
        !ok && err.contains("Signature for identity") && err.contains("demo/signed"),
        "{err}"
    );
    // tollgate agrees on both counts.
    verify_image(&reference, &vector("test-only-c.pub"), &[]).ok();
    verify_image(&other, &vector("test-only-c.pub"), &[]).assert_code(1);
}
