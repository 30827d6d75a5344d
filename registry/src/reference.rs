//! Image references `registry/repository[:tag][@sha256:hex]`, parsed strictly.
//!
//! The registry host is required (`docker.io` is never assumed): the first path component must
//! contain a `.` or a `:` or be `localhost`, as in the distribution reference grammar. Repository
//! components are lowercase alphanumerics joined by `.`, `_`, `__` or dashes; tags are at most 128
//! characters of `[A-Za-z0-9_.-]` not starting with `.` or `-`; digests are checked by
//! [`tollgate_verifier::oci::descriptor::parse_digest`] (sha256 only).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use tollgate_verifier::digest::Digest;
use tollgate_verifier::oci::descriptor::parse_digest;

/// Longest repository name accepted (the distribution reference grammar's limit).
const MAX_NAME: usize = 255;

/// Why a reference does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ReferenceError {
    /// The text given (truncated to 200 characters).
    pub reference: String,
    /// What is wrong and how to write it instead.
    pub reason: String,
}

/// `registry/repository[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// A reference to `registry/repository` with no tag or digest (for blobs and tag lists).
    pub fn repository(registry: &str, repository: &str) -> Result<Self, ReferenceError> {
        format!("{registry}/{repository}").parse()
    }

    /// The registry host, with its port if any (`127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path (`models/llama`).
    pub fn repository_name(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository with `tag` (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        format!("{}/{}:{tag}", self.registry, self.repository).parse()
    }

    /// The same repository at `digest` (and no tag).
    pub fn with_digest(&self, digest: &Digest) -> Self {
        Self {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(*digest),
        }
    }

    /// What a manifest request asks for: the digest if there is one, else the tag.
    pub fn target(&self) -> Option<String> {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(t)) => Some(t.clone()),
            (None, None) => None,
        }
    }

    /// Whether the registry host is `localhost`, in 127.0.0.0/8 or `::1`.
    pub fn is_loopback(&self) -> bool {
        let host = host_without_port(&self.registry);
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_without_port(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One repository component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|s| s == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_host(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        let Some((addr, port)) = rest.split_once(']') else {
            return false;
        };
        let port_ok = port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return addr.parse::<Ipv6Addr>().is_ok() && port_ok;
    }
    let (name, port) = match host.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let labels_ok = !name.is_empty()
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    port_ok && labels_ok
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ReferenceError {
            reference: s.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        if s.contains("://") {
            return Err(err(
                "write the reference without a scheme (registry/repository:tag)",
            ));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let digest = parse_digest(d).map_err(|e| err(&e.to_string()))?;
                (n, Some(digest))
            }
            None => (s, None),
        };
        let (host, path) = name_tag.split_once('/').ok_or_else(|| {
            err("no registry host: write HOST[:PORT]/REPOSITORY[:TAG] (docker.io is not assumed)")
        })?;
        let looks_like_host = host.contains('.') || host.contains(':') || host == "localhost";
        if !looks_like_host {
            return Err(err(&format!(
                "{host:?} is not a registry host (it has no '.' or ':' and is not localhost): \
                 write HOST[:PORT]/REPOSITORY[:TAG] (docker.io is not assumed)"
            )));
        }
        if !valid_host(host) {
            return Err(err(&format!(
                "{host:?} is not a valid registry host[:port]"
            )));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t)),
            _ => (path, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(err(&format!(
                "tag {tag:?} must be 1 to 128 characters of A-Z a-z 0-9 _ . - not starting with . or -"
            )));
        }
        if repository.len() > MAX_NAME || !repository.split('/').all(valid_component) {
            return Err(err(&format!(
                "repository {repository:?} must be lowercase components of a-z 0-9 joined by \
                 '.', '_', '__' or '-', separated by '/', at most {MAX_NAME} characters"
            )));
        }
        Ok(Self {
            registry: host.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}
