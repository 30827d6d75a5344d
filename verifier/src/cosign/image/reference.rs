//! Docker references (`registry/repo[:tag][@digest]`) as containers/image reads a signature's
//! `docker-reference`: the distribution/reference grammar, normalized like
//! `reference.ParseNormalizedNamed` (`busybox` → `docker.io/library/busybox`,
//! `index.docker.io` → `docker.io`).

use std::fmt;

use crate::digest::Digest;
use crate::oci::descriptor::parse_digest;

/// Longest repository name (domain and path) accepted, as in distribution/reference.
const MAX_NAME: usize = 255;

/// Longest reference text looked at.
const MAX_REFERENCE: usize = 512;

/// Why a docker reference could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("docker reference {reference:?} is invalid: {why}")]
pub struct ReferenceError {
    /// The text given (at most 512 characters shown).
    pub reference: String,
    /// What is wrong.
    pub why: &'static str,
}

/// A normalized docker reference: repository (`domain/path`), optional tag, optional digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerReference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl DockerReference {
    /// Parses and normalizes a reference (`ParseNormalizedNamed`).
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let err = |why| ReferenceError {
            reference: text.chars().take(MAX_REFERENCE).collect(),
            why,
        };
        if text.len() > MAX_REFERENCE {
            return Err(err("longer than 512 bytes"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(parse_digest(d).map_err(|_| err("the digest is not sha256:<64 hex>"))?),
            ),
            None => (text, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let b = tag.as_bytes();
            let ok = (1..=128).contains(&b.len())
                && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
            if !ok {
                return Err(err("the tag is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
            }
        }
        if name.is_empty() {
            return Err(err("the repository name is empty"));
        }
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(
                "a 64-digit hex string is an image id, not a repository",
            ));
        }
        // splitDockerDomain
        let (mut domain, mut path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.to_lowercase() != first =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        if domain == "index.docker.io" {
            domain = "docker.io".to_owned();
        }
        if domain == "docker.io" && !path.contains('/') {
            path = format!("library/{path}");
        }
        if !valid_domain(&domain) {
            return Err(err("the registry host is not host[:port]"));
        }
        if !path.split('/').all(valid_path_component) {
            return Err(err(
                "a repository path component is not lowercase [a-z0-9] separated by '.', '_', '__' or '-'",
            ));
        }
        if domain.len() + 1 + path.len() > MAX_NAME {
            return Err(err("the repository name is longer than 255 characters"));
        }
        Ok(Self {
            domain,
            path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The repository, `domain/path` (what `reference.Named.Name()` returns).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Whether the reference names only a repository (no tag, no digest), as cosign writes.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }
}

impl fmt::Display for DockerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `host[:port]`: dot-separated labels of `[A-Za-z0-9-]` (not starting or ending with `-`) or
/// a bracketed IPv6 address, then an optional decimal port.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let host_ok = domain.starts_with('[') || host.split('.').all(label_ok);
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() && !b[0].is_ascii_digit() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let sep_ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !sep_ok || i == b.len() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_containers_image() {
        let r = DockerReference::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        assert!(r.is_name_only());
        let r = DockerReference::parse("index.docker.io/foo/bar:v1").unwrap();
        assert_eq!(r.repository(), "docker.io/foo/bar");
        assert_eq!(r.tag(), Some("v1"));
        let r = DockerReference::parse("127.0.0.1:5000/demo/hello:v1").unwrap();
        assert_eq!(r.repository(), "127.0.0.1:5000/demo/hello");
        let r = DockerReference::parse("localhost/x").unwrap();
        assert_eq!(r.repository(), "localhost/x");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = DockerReference::parse(&format!("reg.example:443/a/b:t@{d}")).unwrap();
        assert_eq!(r.digest().unwrap().to_string(), d);
        assert_eq!(r.to_string(), format!("reg.example:443/a/b:t@{d}"));
        let r = DockerReference::parse("[::1]:5000/a").unwrap();
        assert_eq!(r.repository(), "[::1]:5000/a");
    }

    #[test]
    fn refuses_invalid_references() {
        for bad in [
            "",
            "Docker.io/Foo",
            "reg.example/UPPER",
            "reg.example/a//b",
            "reg.example/a-",
            "reg.example/a:",
            "reg.example/a:-x",
            "reg.example/a@sha256:abc",
            "reg.example:x/a",
            "-reg.example/a",
            &"a".repeat(64),
        ] {
            assert!(DockerReference::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DockerReference::parse("a__b/c.d-e--f").is_ok());
    }
}
