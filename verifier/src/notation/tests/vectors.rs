//! Every scenario of `testdata/notation/cases.json` at every level it lists, through the
//! library verifier with a real trust store directory and policy document built per case.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::super::envelope::{Descriptor, EnvelopeFormat};
use super::super::policy::{Check, PolicyKind};
use super::super::verify::{Artifact, BlobTarget, Outcome, Request, Status};
use super::{Config, at, testdata};

struct Case {
    id: String,
    raw: Value,
}

fn cases() -> Vec<Case> {
    let bytes = std::fs::read(testdata().join("cases.json")).expect("cases.json");
    let doc: Value = serde_json::from_slice(&bytes).expect("json");
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            id: c["id"].as_str().expect("id").to_owned(),
            raw: c.clone(),
        })
        .collect()
}

fn run(case: &Case, level: &str) -> Outcome {
    let c = &case.raw;
    let stores: Vec<(String, Vec<PathBuf>)> = c["trust_stores"]
        .as_object()
        .expect("stores")
        .iter()
        .map(|(k, v)| {
            let paths = v
                .as_array()
                .expect("paths")
                .iter()
                .map(|p| testdata().join(p.as_str().expect("path")))
                .collect();
            (k.clone(), paths)
        })
        .collect();
    let refs: Vec<(&str, &[PathBuf])> = stores
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let config = Config::new(&refs);
    let mut statement = c["policy"].clone();
    if level != "custom" {
        statement["signatureVerification"]["level"] = level.into();
    }
    if level == "skip" {
        let obj = statement.as_object_mut().expect("statement");
        obj.remove("trustStores");
        obj.remove("trustedIdentities");
    }
    let blob = c["artifact"].get("blob_descriptor").cloned();
    let kind = if blob.is_some() {
        let obj = statement.as_object_mut().expect("statement");
        obj.remove("registryScopes");
        obj.insert("globalPolicy".into(), true.into());
        PolicyKind::Blob
    } else {
        if statement.get("registryScopes").is_none() {
            statement["registryScopes"] = serde_json::json!(["*"]);
        }
        PolicyKind::Oci
    };
    let verifier = config.verifier(&super::oci_policy(statement.clone()), kind);
    let envelope = std::fs::read(testdata().join(c["envelope"].as_str().expect("envelope")))
        .expect("envelope file");
    let format = EnvelopeFormat::from_name(c["format"].as_str().expect("format")).expect("format");
    let artifact = match blob {
        Some(b) => {
            let d: Descriptor = serde_json::from_value(b).expect("blob descriptor");
            Artifact::Blob(BlobTarget {
                size: d.size,
                digests: vec![d.digest],
                media_type: None,
            })
        }
        None => {
            let descriptor: Descriptor =
                serde_json::from_value(c["artifact"]["descriptor"].clone()).expect("descriptor");
            let repository = c["artifact"]["reference"]
                .as_str()
                .and_then(|r| r.split_once('@'))
                .map(|(repo, _)| repo.to_owned())
                .or_else(|| statement["registryScopes"][0].as_str().map(str::to_owned))
                .expect("repository");
            Artifact::Oci {
                repository,
                descriptor,
            }
        }
    };
    let user_metadata: BTreeMap<String, String> = c["artifact"]
        .get("userMetadata")
        .map(|m| serde_json::from_value(m.clone()).expect("metadata"))
        .unwrap_or_default();
    verifier.verify(&Request {
        artifact,
        envelope: &envelope,
        media_type: format.media_type(),
        policy_name: None,
        user_metadata,
        at: at(c["verify_at"].as_str().expect("verify_at")),
    })
}

/// The check a `failing_check` text names.
fn named_check(failing: &str) -> Option<Check> {
    let first = failing.split_whitespace().next().unwrap_or_default();
    if failing.contains("plugin") {
        return Some(Check::Integrity);
    }
    [
        Check::Integrity,
        Check::Authenticity,
        Check::Expiry,
        Check::AuthenticTimestamp,
        Check::Revocation,
    ]
    .into_iter()
    .find(|c| c.name() == first)
}

#[test]
fn every_scenario_at_every_level() {
    let cases = cases();
    assert_eq!(cases.len(), 41, "cases.json holds 41 scenarios");
    let mut problems = Vec::new();
    let mut runs = 0;
    for case in &cases {
        let failing = case.raw["failing_check"].as_str().unwrap_or_default();
        for (level, expected) in case.raw["expect"].as_object().expect("expect") {
            runs += 1;
            let outcome = run(case, level);
            if std::env::var_os("NOTATION_TEST_PRINT").is_some() {
                println!("== {} {level}\n{outcome}", case.id);
            }
            let want_pass = expected == "pass";
            if outcome.is_success() != want_pass {
                problems.push(format!(
                    "{} at {level}: expected {expected}, got:\n{outcome}",
                    case.id
                ));
                continue;
            }
            if failing.is_empty() {
                continue;
            }
            // The failure (or the logged failure) is the one the vectors name.
            let ok = match named_check(failing) {
                Some(check) => outcome
                    .check(check)
                    .is_some_and(|r| r.status == Status::Failed),
                None => outcome.artifact_error.is_some(),
            };
            if !ok {
                problems.push(format!(
                    "{} at {level}: expected the failing check {failing:?}, got:\n{outcome}",
                    case.id
                ));
            }
        }
    }
    assert!(runs >= 60, "only {runs} case/level runs");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn plugin_signatures_name_the_plugin() {
    let case = cases()
        .into_iter()
        .find(|c| c.id == "go-mock-pluginver-1.2.3")
        .expect("case");
    let outcome = run(&case, "audit");
    let integrity = outcome.check(Check::Integrity).expect("integrity");
    assert_eq!(integrity.status, Status::Failed);
    assert!(
        integrity
            .message
            .contains("io.cncf.notary.plugin.unittest.mock")
            && integrity.message.contains(">= 1.2.3"),
        "{}",
        integrity.message
    );
}

#[test]
fn expired_signer_rescued_by_timestamp_reports_it() {
    let case = cases()
        .into_iter()
        .find(|c| c.id == "go-ts-jwsExpiredWithTimestamp")
        .expect("case");
    let outcome = run(&case, "strict");
    assert!(outcome.is_success(), "{outcome}");
    let ts = outcome.check(Check::AuthenticTimestamp).expect("ts");
    assert!(ts.message.contains("2024-06-18T07:21"), "{}", ts.message);
    let json = outcome.to_json();
    assert_eq!(json["verified"], true);
    assert_eq!(json["checks"][3]["check"], "authenticTimestamp");
    assert_eq!(json["checks"][3]["status"], "passed");
    assert!(
        ts.message.contains("GlobalSign") || ts.message.contains("Globalsign"),
        "{}",
        ts.message
    );
}

#[test]
fn skip_level_verifies_nothing() {
    let case = cases()
        .into_iter()
        .find(|c| c.id == "go-mock-ca_invalid")
        .expect("case");
    let outcome = run(&case, "skip");
    assert!(outcome.is_success());
    assert_eq!(outcome.to_json()["level"], "skip");
    assert!(outcome.checks.iter().all(|c| c.status == Status::Skipped));
}
