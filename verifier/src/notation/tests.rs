//! Tests of the Notation module: every scenario of the upstream vectors at every level
//! (`vectors`), signing round trips and byte layouts (`signing`), rejections with their reasons
//! (`rejections`), and the parts one by one (`units`).

mod rejections;
mod signing;
mod units;
mod vectors;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::policy::{PolicyKind, TrustPolicyDocument};
use super::truststore::TrustStore;
use super::verify::Verifier;

/// `testdata/notation`.
fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/notation")
}

/// tollgate's own test PKI (`testdata/notation/tollgate/make.sh`).
fn pki(name: &str) -> PathBuf {
    testdata().join("tollgate").join(name)
}

fn at(s: &str) -> SystemTime {
    super::parse_rfc3339(s).expect("test time")
}

/// A notation configuration directory with `truststore/x509/{type}/{name}/` filled from
/// files or directories (every file of a directory is copied).
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new(stores: &[(&str, &[PathBuf])]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (store, sources) in stores {
            let (ty, name) = store.split_once(':').expect("type:name");
            let target = dir.path().join("truststore/x509").join(ty).join(name);
            std::fs::create_dir_all(&target).expect("mkdir");
            for src in *sources {
                let files: Vec<PathBuf> = if src.is_dir() {
                    let mut v: Vec<PathBuf> = std::fs::read_dir(src)
                        .expect("read dir")
                        .map(|e| e.expect("entry").path())
                        .filter(|p| p.is_file())
                        .collect();
                    v.sort();
                    v
                } else {
                    vec![src.clone()]
                };
                for f in files {
                    std::fs::copy(&f, target.join(f.file_name().expect("name"))).expect("copy");
                }
            }
        }
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn store(&self) -> TrustStore {
        TrustStore::from_config_dir(self.path())
    }

    fn verifier(&self, policy: &serde_json::Value, kind: PolicyKind) -> Verifier {
        let doc = TrustPolicyDocument::parse(policy.to_string().as_bytes(), kind).expect("policy");
        Verifier::new(doc, self.store())
    }
}

/// A one-statement OCI policy document.
fn oci_policy(statement: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"version": "1.0", "trustPolicies": [statement]})
}
