//! Chain verification: which paths to try, the rules tollgate adds, and rustls-webpki as the gate.
//!
//! [`verify_chain`] works in four steps:
//!
//! 1. the leaf alone: its [`Usage`] rule, not a CA, valid at the given time;
//! 2. candidate paths by name: depth-first from the leaf through the offered intermediates to a
//!    self-issued root of the given ones (shortest first, bounded in depth, count and steps);
//!    none means "no path", reported with where the names run out;
//! 3. for each candidate, the rules checked by hand so the error can name the certificate:
//!    validity of every certificate (root included), basicConstraints cA=true on every issuer,
//!    keyUsage keyCertSign on issuers that carry a keyUsage, pathLenConstraint;
//! 4. rustls-webpki on that exact path (signatures, algorithm policy, constraints, unknown
//!    critical extensions). If it refuses, the path is replayed one link at a time (anchoring at
//!    each issuer in turn) to find the first certificate it refuses and why.
//!
//! The first candidate that passes 3 and 4 is the [`VerifiedChain`]; if none does, the first
//! candidate's error is returned. Roots that are not self-issued are not trust anchors (OpenSSL,
//! and so model_signing, behave the same without `X509_V_FLAG_PARTIAL_CHAIN`): they are used as
//! untrusted intermediates and named in the "no path" message.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_cert::der::Decode;
use x509_cert::der::asn1::UintRef;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::oid::db::DB;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::{Certificate, MAX_CHAIN_LEN, MAX_INTERMEDIATES, MAX_ROOTS, X509Error};

/// Most candidate paths tried.
const MAX_CANDIDATES: usize = 16;
/// Most search steps (paths extended) while looking for candidates.
const MAX_SEARCH_STEPS: usize = 2_000;

/// What the signing certificate is for; selects the rule its extensions must meet.
///
/// The CA rules are the same for every usage today. Notation's code-signing rules (keyUsage
/// present and critical, an EKU deny-list, issuers with keyUsage present) and its timestamping
/// rule (EKU exactly id-kp-timeStamping) will be further variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Usage {
    /// Signing models or code, by OpenSSF model_signing's rule: the leaf has keyUsage with
    /// digitalSignature, or extendedKeyUsage with id-kp-codeSigning (model_signing: "Signing
    /// certificate cannot be used for signing"). Any other keyUsage or EKU content is allowed.
    CodeSigning,
}

/// Where a certificate sits in a chain; errors say it before the subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The leaf, whose key made the signature.
    SigningCertificate,
    /// A certificate between the leaf and the root.
    Intermediate,
    /// The trust anchor: a given, self-issued root CA certificate.
    Root,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SigningCertificate => "signing certificate",
            Self::Intermediate => "intermediate certificate",
            Self::Root => "root CA",
        })
    }
}

/// A chain that [`verify_chain`] accepted: the path it built, leaf first, root last.
///
/// Only [`verify_chain`] makes one, so holding one proves the check ran.
#[derive(Clone, Debug)]
pub struct VerifiedChain {
    leaf: Certificate,
    /// Intermediates then the root; empty when the leaf is itself the given root.
    above: Vec<Certificate>,
    at: SystemTime,
    usage: Usage,
}

impl VerifiedChain {
    /// The signing certificate; build the signature-checking key from its
    /// [`Certificate::spki_der`].
    pub fn leaf(&self) -> &Certificate {
        &self.leaf
    }

    /// The intermediates on the path, leaf side first (not necessarily all that were offered).
    pub fn intermediates(&self) -> &[Certificate] {
        self.above.split_last().map_or(&[], |(_, rest)| rest)
    }

    /// The root CA the path ends at (the leaf itself for a self-signed leaf given as root).
    pub fn root(&self) -> &Certificate {
        self.above.last().unwrap_or(&self.leaf)
    }

    /// Every certificate of the path, leaf first, root last, each once.
    pub fn certificates(&self) -> impl Iterator<Item = &Certificate> {
        std::iter::once(&self.leaf).chain(&self.above)
    }

    /// The time every certificate was checked to be valid at.
    pub fn verified_at(&self) -> SystemTime {
        self.at
    }

    /// The usage the leaf was checked for.
    pub fn usage(&self) -> Usage {
        self.usage
    }
}

/// Verifies that `leaf` chains to one of `roots` through `intermediates`, with every
/// certificate valid at `at` and the leaf fit for `usage`.
///
/// `intermediates` are untrusted and may include unrelated certificates or the root itself
/// (model_signing bundles carry `certs[1:]`); `roots` are the trust anchors: only self-issued
/// ones anchor, others are treated as intermediates. Pass `SystemTime::now()` unless a trusted
/// signing time is known. Fails with an [`X509Error`] naming the certificate at fault.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: SystemTime,
    usage: Usage,
) -> Result<VerifiedChain, X509Error> {
    if intermediates.len() > MAX_INTERMEDIATES {
        return Err(X509Error::TooManyCertificates {
            what: "intermediates",
            max: MAX_INTERMEDIATES,
        });
    }
    if roots.len() > MAX_ROOTS {
        return Err(X509Error::TooManyCertificates {
            what: "root CAs",
            max: MAX_ROOTS,
        });
    }
    let since_epoch = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| X509Error::TimeOutOfRange)?;
    let time = UnixTime::since_unix_epoch(since_epoch);

    check_leaf(leaf, usage)?;
    check_validity(leaf, Role::SigningCertificate, at)?;

    let (anchors, demoted): (Vec<&Certificate>, Vec<&Certificate>) =
        roots.iter().partition(|r| r.is_self_issued());
    let mut pool: Vec<&Certificate> = Vec::new();
    for cert in intermediates.iter().chain(demoted.iter().copied()) {
        if !cert.is_self_issued() && cert != leaf && !pool.contains(&cert) {
            pool.push(cert);
        }
    }

    let mut search = Search {
        pool: &pool,
        anchors: &anchors,
        found: Vec::new(),
        deepest: Vec::new(),
        steps: 0,
    };
    search.extend(&mut vec![leaf]);
    if search.found.is_empty() {
        return Err(no_path(leaf, &search.deepest, &demoted));
    }
    let mut first_error = None;
    for path in &search.found {
        match try_path(path, time, at, usage) {
            Ok(chain) => return Ok(chain),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| no_path(leaf, &search.deepest, &demoted)))
}

/// Depth-first search for name-linked paths from the leaf to an anchor.
struct Search<'a> {
    pool: &'a [&'a Certificate],
    anchors: &'a [&'a Certificate],
    /// Complete paths, leaf first, anchor last.
    found: Vec<Vec<&'a Certificate>>,
    /// The longest partial path seen, for the "no path" message.
    deepest: Vec<&'a Certificate>,
    steps: usize,
}

impl<'a> Search<'a> {
    fn extend(&mut self, path: &mut Vec<&'a Certificate>) {
        let Some(&head) = path.last() else { return };
        if self.found.len() >= MAX_CANDIDATES || self.steps >= MAX_SEARCH_STEPS {
            return;
        }
        self.steps += 1;
        if path.len() > self.deepest.len() {
            self.deepest.clone_from(path);
        }
        for &anchor in self.anchors {
            if anchor.subject_der == head.issuer_der && self.found.len() < MAX_CANDIDATES {
                let mut complete = path.clone();
                complete.push(anchor);
                self.found.push(complete);
            }
        }
        // Room for one more intermediate and the root?
        if path.len() + 2 > MAX_CHAIN_LEN {
            return;
        }
        for &next in self.pool {
            let seen = path
                .iter()
                .any(|p| p.subject_der == next.subject_der && p.spki == next.spki);
            if next.subject_der == head.issuer_der && !seen {
                path.push(next);
                self.extend(path);
                path.pop();
            }
        }
    }
}

/// The "no path" error: where the names run out and what to pass.
fn no_path(leaf: &Certificate, deepest: &[&Certificate], demoted: &[&Certificate]) -> X509Error {
    let mut detail = match deepest {
        [_, first, .., top] | [_, first @ top] => format!(
            "it is issued by {}, which chains to no given root CA ({} is issued by {}, which was \
             not given); pass the root CA certificate",
            first.label(),
            top.label(),
            top.issuer
        ),
        _ if leaf.is_self_issued() => format!(
            "it is self-issued and no given root CA is {}; pass this certificate as the root CA \
             if it is meant to be trusted directly",
            leaf.label()
        ),
        _ => format!(
            "it is issued by {}, which is neither among the given intermediates nor a given root \
             CA; pass the root CA certificate, and the intermediate CA certificates if the chain \
             lacks them",
            leaf.issuer
        ),
    };
    if deepest.len() + 1 >= MAX_CHAIN_LEN {
        detail.push_str(&format!(
            " (paths longer than {MAX_CHAIN_LEN} certificates are not followed)"
        ));
    }
    for cert in demoted.iter().take(3) {
        detail.push_str(&format!(
            "; {} was given as a root CA but is not self-signed, so it cannot anchor trust",
            cert.label()
        ));
    }
    X509Error::NoPathToRoot {
        leaf: leaf.label(),
        detail,
    }
}

/// The leaf's own rules: usage, and not a CA.
fn check_leaf(leaf: &Certificate, usage: Usage) -> Result<(), X509Error> {
    match usage {
        Usage::CodeSigning => {
            let digital_signature = leaf.key_usage_has(KeyUsages::DigitalSignature) == Some(true);
            let code_signing = leaf
                .ext
                .eku
                .as_ref()
                .is_some_and(|eku| eku.contains(&CODE_SIGNING));
            if !digital_signature && !code_signing {
                return Err(X509Error::NotForSigning {
                    subject: leaf.label(),
                    detail: format!(
                        "it has neither keyUsage digitalSignature nor extendedKeyUsage \
                         codeSigning ({}); use a certificate issued for code signing",
                        describe_usage(leaf)
                    ),
                });
            }
        }
    }
    if leaf.is_ca() {
        return Err(X509Error::CaConstraint {
            role: Role::SigningCertificate,
            subject: leaf.label(),
            detail: "is a CA certificate (basicConstraints cA=true); sign with an end-entity \
                     certificate issued by the CA"
                .into(),
        });
    }
    Ok(())
}

const CODE_SIGNING: ObjectIdentifier = x509_cert::der::oid::db::rfc5280::ID_KP_CODE_SIGNING;

/// "keyUsage: keyEncipherment; extendedKeyUsage: serverAuth", for the usage message.
fn describe_usage(cert: &Certificate) -> String {
    const NAMES: [(KeyUsages, &str); 9] = [
        (KeyUsages::DigitalSignature, "digitalSignature"),
        (KeyUsages::NonRepudiation, "contentCommitment"),
        (KeyUsages::KeyEncipherment, "keyEncipherment"),
        (KeyUsages::DataEncipherment, "dataEncipherment"),
        (KeyUsages::KeyAgreement, "keyAgreement"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
        (KeyUsages::EncipherOnly, "encipherOnly"),
        (KeyUsages::DecipherOnly, "decipherOnly"),
    ];
    let ku = match cert.ext.key_usage {
        None => "no keyUsage".to_owned(),
        Some(ku) => {
            let set: Vec<&str> = NAMES
                .iter()
                .filter(|(flag, _)| ku.0.contains(*flag))
                .map(|(_, name)| *name)
                .collect();
            format!(
                "keyUsage: {}",
                if set.is_empty() {
                    "none".to_owned()
                } else {
                    set.join(", ")
                }
            )
        }
    };
    let eku = match &cert.ext.eku {
        None => "no extendedKeyUsage".to_owned(),
        Some(list) => {
            let names: Vec<String> = list.iter().map(oid_name).collect();
            format!("extendedKeyUsage: {}", names.join(", "))
        }
    };
    format!("{ku}; {eku}")
}

/// Names the const-oid database lacks: signature algorithms a refused chain may use.
const SIGNATURE_ALGORITHMS: [(&str, &str); 14] = [
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.2.840.10040.4.3", "dsa-with-sha1"),
    ("1.3.101.113", "Ed448"),
];

/// An OID's short name where known ("serverAuth" for id-kp-serverAuth), else dotted.
fn oid_name(oid: &ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    if let Some((_, name)) = SIGNATURE_ALGORITHMS.iter().find(|(o, _)| *o == dotted) {
        return (*name).to_owned();
    }
    match DB.by_oid(oid) {
        Some(name) => name.strip_prefix("id-kp-").unwrap_or(name).to_owned(),
        None => dotted,
    }
}

fn check_validity(cert: &Certificate, role: Role, at: SystemTime) -> Result<(), X509Error> {
    if at < cert.not_before {
        return Err(X509Error::NotYetValid {
            role,
            subject: cert.label(),
            not_before: cert.not_before,
            at,
        });
    }
    if at > cert.not_after {
        return Err(X509Error::Expired {
            role,
            subject: cert.label(),
            not_after: cert.not_after,
            at,
        });
    }
    Ok(())
}

/// The CA rules for `cert`, which issued `child` and has `below` intermediates under it.
fn check_ca(
    cert: &Certificate,
    role: Role,
    child: &Certificate,
    below: usize,
) -> Result<(), X509Error> {
    let fail = |detail: String| X509Error::CaConstraint {
        role,
        subject: cert.label(),
        detail,
    };
    match cert.ext.basic_constraints {
        Some((true, Some(path_len))) if below > usize::from(path_len) => {
            return Err(fail(format!(
                "allows {path_len} intermediate CA certificate(s) below it (pathLenConstraint) \
                 but the chain has {below}; the chain was issued against its constraints"
            )));
        }
        Some((true, _)) => {}
        Some((false, _)) => {
            return Err(fail(format!(
                "issued {} but is not a CA (basicConstraints cA=false); only CA certificates may \
                 issue certificates",
                child.label()
            )));
        }
        // OpenSSL's exception: a version 1 root has no extensions at all.
        None if role == Role::Root && cert.version_1 => {}
        None => {
            return Err(fail(format!(
                "issued {} but has no basicConstraints extension, so it is not a CA; CA \
                 certificates need basicConstraints cA=true",
                child.label()
            )));
        }
    }
    if cert.key_usage_has(KeyUsages::KeyCertSign) == Some(false) {
        return Err(fail(format!(
            "issued {} but its keyUsage lacks keyCertSign, so it may not issue certificates",
            child.label()
        )));
    }
    Ok(())
}

/// Checks one candidate path (leaf first, anchor last) by hand, then through webpki.
fn try_path(
    path: &[&Certificate],
    time: UnixTime,
    at: SystemTime,
    usage: Usage,
) -> Result<VerifiedChain, X509Error> {
    check_path_rules(path, at)?;
    let Ok(used) = webpki_verify(path, time) else {
        return Err(diagnose(path, time));
    };
    let (Some(&leaf), Some(&root)) = (path.first(), path.last()) else {
        return Err(internal(path, "empty path"));
    };
    // webpki searched only this path's intermediates; map what it used back to ours.
    let mut above = Vec::with_capacity(used.len() + 1);
    for der in &used {
        match path.iter().find(|c| c.der() == der.as_slice()) {
            Some(&cert) => above.push(cert),
            None => return Err(internal(path, "validator returned an unknown certificate")),
        }
    }
    let offered = path
        .get(1..path.len().saturating_sub(1))
        .unwrap_or_default();
    if above.len() != offered.len() || above.iter().zip(offered).any(|(a, b)| a != b) {
        // webpki found another path within this one: it must meet the rules too.
        let mut shorter = vec![leaf];
        shorter.extend(above.iter().copied());
        shorter.push(root);
        check_path_rules(&shorter, at)?;
    }
    if root != leaf {
        above.push(root);
    }
    Ok(VerifiedChain {
        leaf: leaf.clone(),
        above: above.into_iter().cloned().collect(),
        at,
        usage,
    })
}

fn internal(path: &[&Certificate], why: &str) -> X509Error {
    X509Error::Rejected {
        role: Role::SigningCertificate,
        subject: path.first().map(|c| c.label()).unwrap_or_default(),
        reason: format!("internal error: {why}"),
    }
}

/// Validity and CA rules for every certificate above the leaf.
fn check_path_rules(path: &[&Certificate], at: SystemTime) -> Result<(), X509Error> {
    let last = path.len().saturating_sub(1);
    for (idx, pair) in path.windows(2).enumerate() {
        let [child, cert] = pair else { continue };
        let idx = idx + 1;
        let role = if idx == last {
            Role::Root
        } else {
            Role::Intermediate
        };
        // A self-signed leaf given as its own root has met the leaf rules; no CA rules apply.
        if role == Role::Root && path.first() == Some(cert) {
            continue;
        }
        check_validity(cert, role, at)?;
        check_ca(cert, role, child, idx - 1)?;
    }
    Ok(())
}

/// Why webpki could not check a path.
enum WebpkiFailure {
    /// The anchor certificate itself could not be read as a trust anchor.
    Anchor(webpki::Error),
    /// Path validation failed.
    Path(webpki::Error),
}

/// webpki on exactly `path` (leaf first, anchor last); returns the DER of the intermediates it
/// used, leaf side first.
fn webpki_verify(path: &[&Certificate], time: UnixTime) -> Result<Vec<Vec<u8>>, WebpkiFailure> {
    let (Some(leaf), Some(root)) = (path.first(), path.last()) else {
        return Err(WebpkiFailure::Path(webpki::Error::UnknownIssuer));
    };
    let leaf_der = CertificateDer::from(leaf.der());
    let root_der = CertificateDer::from(root.der());
    let anchors = [webpki::anchor_from_trusted_cert(&root_der).map_err(WebpkiFailure::Anchor)?];
    let middle = path
        .get(1..path.len().saturating_sub(1))
        .unwrap_or_default();
    let intermediates: Vec<CertificateDer<'_>> = middle
        .iter()
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let ee = EndEntityCert::try_from(&leaf_der).map_err(WebpkiFailure::Path)?;
    let verified = ee
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            AnyPurpose,
            None,
            None,
        )
        .map_err(WebpkiFailure::Path)?;
    Ok(verified
        .intermediate_certificates()
        .map(|c| c.der().to_vec())
        .collect())
}

/// EKU rules are [`Usage`]'s business (checked on the leaf); webpki applies its validator to
/// every certificate of the path, so this one only insists the extension is well-formed.
struct AnyPurpose;

impl ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

/// Replays a refused path one link at a time: anchoring at `path[k]` checks `path[..k]`, so the
/// first `k` that fails names `path[k - 1]` (checked under issuer `path[k]`) as the culprit.
fn diagnose(path: &[&Certificate], time: UnixTime) -> X509Error {
    let last = path.len().saturating_sub(1);
    for k in 1..=last {
        let (Some(prefix), Some(&culprit), Some(&issuer)) =
            (path.get(..=k), path.get(k - 1), path.get(k))
        else {
            break;
        };
        let role = if k == 1 {
            Role::SigningCertificate
        } else {
            Role::Intermediate
        };
        match webpki_verify(prefix, time) {
            Ok(_) => {}
            // An intermediate that webpki cannot hold as an anchor says nothing about this
            // link; the final probe anchors at the real root.
            Err(WebpkiFailure::Anchor(_)) if k < last => {}
            Err(WebpkiFailure::Anchor(e)) => {
                return X509Error::Rejected {
                    role: Role::Root,
                    subject: issuer.label(),
                    reason: format!("it cannot be used as a trust anchor ({e})"),
                };
            }
            Err(WebpkiFailure::Path(e)) => return explain(e, role, culprit, issuer),
        }
    }
    internal(path, "path validation failed but no link could be blamed")
}

/// Turns webpki's verdict on `culprit` (issued by `issuer`) into an [`X509Error`].
fn explain(e: webpki::Error, role: Role, culprit: &Certificate, issuer: &Certificate) -> X509Error {
    use webpki::Error as E;
    let subject = culprit.label();
    match e {
        E::InvalidSignatureForPublicKey => X509Error::BadSignature {
            role,
            subject,
            issuer: issuer.label(),
        },
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            X509Error::UnsupportedAlgorithm {
                role,
                subject,
                detail: format!(
                    "{} by {} with {}",
                    oid_name(&culprit.signature_algorithm),
                    issuer.label(),
                    describe_key(issuer.spki_der())
                ),
            }
        }
        E::CertExpired { .. } | E::CertNotValidYet { .. } => {
            // The hand-written check runs first; reaching here means the clocks disagree.
            X509Error::Rejected {
                role,
                subject,
                reason: format!("it is outside its validity period ({e})"),
            }
        }
        E::UnsupportedCriticalExtension => X509Error::Rejected {
            role,
            subject,
            reason: "it has a critical extension that tollgate does not understand".into(),
        },
        E::NameConstraintViolation => X509Error::Rejected {
            role,
            subject,
            reason: "its names are outside the name constraints of a CA above it".into(),
        },
        E::UnsupportedCertVersion => X509Error::Rejected {
            role,
            subject,
            reason: "it is not an X.509 version 3 certificate".into(),
        },
        E::CaUsedAsEndEntity | E::EndEntityUsedAsCa | E::PathLenConstraintViolated => {
            X509Error::CaConstraint {
                role,
                subject,
                detail: format!("breaks a basicConstraints rule ({e})"),
            }
        }
        other => X509Error::Rejected {
            role,
            subject,
            reason: other.to_string(),
        },
    }
}

/// "an EC key (secp256r1)", "a 1024-bit RSA key", for the algorithm message.
fn describe_key(spki_der: &[u8]) -> String {
    let Ok(spki) = SubjectPublicKeyInfoRef::from_der(spki_der) else {
        return "an unreadable key".into();
    };
    let alg = &spki.algorithm;
    let name = oid_name(&alg.oid);
    if alg.oid == RSA_ENCRYPTION {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .and_then(|key| Vec::<UintRef<'_>>::from_der(key).ok())
            .and_then(|ints| {
                let modulus = ints.first()?.as_bytes();
                let top = modulus.first()?;
                Some((modulus.len() - 1) * 8 + (8 - top.leading_zeros() as usize))
            });
        return match bits {
            Some(bits) => format!("a {bits}-bit RSA key"),
            None => "an RSA key".into(),
        };
    }
    if alg.oid == EC_PUBLIC_KEY {
        return match alg.parameters_oid() {
            Ok(curve) => format!("an EC key ({})", oid_name(&curve)),
            Err(_) => "an EC key".into(),
        };
    }
    format!("a {name} key")
}

const EC_PUBLIC_KEY: ObjectIdentifier = x509_cert::der::oid::db::rfc5912::ID_EC_PUBLIC_KEY;

const RSA_ENCRYPTION: ObjectIdentifier = x509_cert::der::oid::db::rfc5912::RSA_ENCRYPTION;
