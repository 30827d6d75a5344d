//! Notation's trust store: `{config}/truststore/x509/{ca|signingAuthority|tsa}/{name}/` holding
//! certificate files (PEM, concatenated PEM, DER or concatenated DER), exactly the layout
//! notation reads, so an existing `~/.config/notation` works as is.
//!
//! Rules (specification "Trust Store", notation-go `verifier/truststore`): store names match
//! `[a-zA-Z0-9_.-]+`; a symlinked store, a symlinked file or a sub-directory inside a store is an
//! error (notation-go's behaviour; the spec would ignore sub-directories); every certificate of
//! a `ca` or `signingAuthority` store is a CA or self-signed; a `tsa` store holds self-signed
//! root CAs only; an empty store is an error. Bounds: [`MAX_STORE_FILES`] files per store, each
//! at most [`crate::x509::MAX_PEM_INPUT`] bytes.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::x509::{Certificate, MAX_PEM_INPUT};

use super::NotationError;

/// Most files one named store may hold.
pub const MAX_STORE_FILES: usize = 256;

/// The three trust store types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreType {
    /// `ca`: roots for `notary.x509` signatures.
    Ca,
    /// `signingAuthority`: roots for `notary.x509.signingAuthority` signatures.
    SigningAuthority,
    /// `tsa`: roots of timestamping authorities.
    Tsa,
}

impl StoreType {
    /// The directory and policy name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ca => "ca",
            Self::SigningAuthority => "signingAuthority",
            Self::Tsa => "tsa",
        }
    }

    /// Parses `ca`, `signingAuthority`, `tsa`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ca" => Some(Self::Ca),
            "signingAuthority" => Some(Self::SigningAuthority),
            "tsa" => Some(Self::Tsa),
            _ => None,
        }
    }
}

impl fmt::Display for StoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `name` is a valid named-store name.
pub fn is_valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// notation's configuration directory: `$XDG_CONFIG_HOME/notation`, else
/// `$HOME/.config/notation` (Go's `os.UserConfigDir` on Linux).
pub fn default_config_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("notation"))
}

/// A trust store directory (`.../truststore/x509`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustStore {
    x509_dir: PathBuf,
}

impl TrustStore {
    /// The trust store of a notation configuration directory: `{dir}/truststore/x509`.
    pub fn from_config_dir(dir: &Path) -> Self {
        Self {
            x509_dir: dir.join("truststore").join("x509"),
        }
    }

    /// A trust store given by its `x509` directory (the one holding `ca/`, `tsa/`, ...).
    pub fn from_x509_dir(dir: &Path) -> Self {
        Self {
            x509_dir: dir.to_path_buf(),
        }
    }

    /// The `x509` directory.
    pub fn x509_dir(&self) -> &Path {
        &self.x509_dir
    }

    /// Loads the certificates of `{type}/{name}`, checking the rules of the module docs.
    pub fn load(
        &self,
        store_type: StoreType,
        name: &str,
    ) -> Result<Vec<Certificate>, NotationError> {
        let label = format!("{store_type}:{name}");
        let err = |detail: String| NotationError::TrustStore {
            store: label.clone(),
            detail,
        };
        if !is_valid_store_name(name) {
            return Err(err(
                "invalid store name; use letters, digits, '_', '.' and '-' only".into(),
            ));
        }
        let dir = self.x509_dir.join(store_type.name()).join(name);
        let meta = std::fs::symlink_metadata(&dir).map_err(|e| {
            err(format!(
                "{} cannot be read ({e}); create it and add the root certificates \
                 (notation cert add --type {store_type} --store {name} ...)",
                dir.display()
            ))
        })?;
        if meta.file_type().is_symlink() {
            return Err(err(format!(
                "{} is a symbolic link; trust stores must be real directories",
                dir.display()
            )));
        }
        if !meta.is_dir() {
            return Err(err(format!("{} is not a directory", dir.display())));
        }
        let mut files = Vec::new();
        let entries =
            std::fs::read_dir(&dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| err(format!("{}: {e}", dir.display())))?;
            let path = entry.path();
            let ft = entry
                .file_type()
                .map_err(|e| err(format!("{}: {e}", path.display())))?;
            if ft.is_symlink() {
                return Err(err(format!(
                    "{} is a symbolic link; trust store files must be regular files",
                    path.display()
                )));
            }
            if ft.is_dir() {
                return Err(err(format!(
                    "{} is a directory; a named trust store holds certificate files only",
                    path.display()
                )));
            }
            files.push(path);
            if files.len() > MAX_STORE_FILES {
                return Err(err(format!("more than {MAX_STORE_FILES} files")));
            }
        }
        files.sort();
        let mut certs = Vec::new();
        for path in &files {
            let bytes = read_bounded(path)?;
            let file_certs = parse_certificates(&bytes).map_err(|e| {
                err(format!(
                    "{} holds no valid certificate: {e}",
                    path.display()
                ))
            })?;
            for cert in file_certs {
                check_anchor(store_type, &cert).map_err(|d| {
                    err(format!(
                        "{}: certificate {}: {d}",
                        path.display(),
                        cert.subject()
                    ))
                })?;
                certs.push(cert);
            }
        }
        if certs.is_empty() {
            return Err(err(format!(
                "{} holds no certificate; add the root certificates to trust",
                dir.display()
            )));
        }
        Ok(certs)
    }
}

fn check_anchor(store_type: StoreType, cert: &Certificate) -> Result<(), String> {
    let self_signed = super::x509::is_self_signed(cert);
    match store_type {
        StoreType::Tsa if !(cert.is_ca() && self_signed) => {
            Err("a tsa trust store must hold self-signed root CA certificates only".into())
        }
        StoreType::Ca | StoreType::SigningAuthority if !(cert.is_ca() || self_signed) => Err(
            "is neither a CA certificate nor self-signed; trust stores hold roots (or \
             self-signed signing certificates)"
                .into(),
        ),
        _ => Ok(()),
    }
}

pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, NotationError> {
    read_limited(path, MAX_PEM_INPUT)
}

pub(crate) fn read_limited(path: &Path, max: usize) -> Result<Vec<u8>, NotationError> {
    let file = std::fs::File::open(path).map_err(|e| NotationError::io(path, &e))?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| NotationError::io(path, &e))?;
    if bytes.len() > max {
        return Err(NotationError::TooLarge {
            what: path.display().to_string(),
            size: bytes.len(),
            max,
        });
    }
    Ok(bytes)
}

/// Parses PEM (one or more `CERTIFICATE` blocks) or DER (one or more concatenated
/// certificates), as notation-core-go's `ReadCertificateFile`.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, NotationError> {
    if bytes.first() == Some(&0x30) {
        let mut certs = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = der_element_len(rest).ok_or_else(|| {
                NotationError::chain("DER input is truncated or not a sequence of certificates")
            })?;
            if certs.len() >= crate::x509::MAX_BUNDLE_CERTS {
                return Err(NotationError::chain("too many certificates in one file"));
            }
            certs.push(Certificate::from_der(&rest[..len])?);
            rest = &rest[len..];
        }
        return Ok(certs);
    }
    Ok(Certificate::parse_pem_bundle(bytes)?)
}

/// Length of the DER SEQUENCE at the start of `b` (header included).
fn der_element_len(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&0x30) {
        return None;
    }
    let first = usize::from(*b.get(1)?);
    let (header, len) = if first < 0x80 {
        (2, first)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (2 + n, len)
    };
    let total = header.checked_add(len)?;
    (total <= b.len()).then_some(total)
}
