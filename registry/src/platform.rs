//! Picking one manifest out of a multi-platform image index: [`parse_platform`] reads
//! `os/arch[/variant]`, [`select_platform`] finds the one entry that matches.
//!
//! Matching follows containerd's platform normalization (`containerd/platforms`
//! `normalizeArch`): names are compared lowercase; `x86_64`/`x86-64` are `amd64` (variant `v1`
//! is the default and dropped); `aarch64` is `arm64` and its variants `8`, `v8`, `v8.0` are the
//! default (so `linux/arm64` and `linux/arm64/v8` are the same platform); `armhf` is `arm/v7`,
//! `armel` is `arm/v6`, `arm` without a variant is `arm/v7`; `i386` is `386`; `macos` is
//! `darwin`. A wanted platform without a variant matches entries whose variant is the default.
//! No "compatible" fallbacks (arm/v7 does not accept an arm/v6 image): a verifier must pull
//! exactly what was asked for. Several matching entries are an error, never a guess.

use std::fmt;

use tollgate_verifier::oci::{Descriptor, ImageIndex, Platform};

/// Why a platform does not parse or select.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The text is not `os/arch[/variant]`.
    #[error(
        "invalid platform {text:?}: write OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64 or linux/arm64/v8"
    )]
    Invalid {
        /// The text given (at most 100 characters).
        text: String,
    },
    /// No entry of the index is for the platform.
    #[error(
        "the image index has no manifest for {wanted}; it has: {}",
        list(available)
    )]
    NoMatch {
        /// The platform asked for.
        wanted: String,
        /// Every platform the index lists.
        available: Vec<String>,
    },
    /// More than one entry matches: refusing to guess.
    #[error(
        "the image index has {} manifests for {wanted} ({}): refusing to pick one; pull one of them \
         by digest",
        matches.len(),
        list(matches)
    )]
    Ambiguous {
        /// The platform asked for.
        wanted: String,
        /// `digest (platform)` of every matching entry.
        matches: Vec<String>,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "no platform entries".into()
    } else {
        items.join(", ")
    }
}

/// Parses `os/arch[/variant]` (e.g. `linux/arm64/v8`); names are kept as given.
pub fn parse_platform(text: &str) -> Result<Platform, PlatformError> {
    let invalid = || PlatformError::Invalid {
        text: text.chars().take(100).collect(),
    };
    let parts: Vec<&str> = text.split('/').collect();
    let ok = |p: &&str| {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(ok) {
        return Err(invalid());
    }
    Ok(Platform {
        os: parts[0].to_owned(),
        architecture: parts[1].to_owned(),
        os_version: None,
        os_features: Vec::new(),
        variant: parts.get(2).map(|v| (*v).to_owned()),
    })
}

/// A platform in containerd's normal form.
#[derive(Debug, PartialEq, Eq)]
struct Normal {
    os: String,
    arch: String,
    variant: String,
}

impl fmt::Display for Normal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

fn normalize(p: &Platform) -> Normal {
    let os = match p.os.to_ascii_lowercase().as_str() {
        "macos" => "darwin".to_owned(),
        other => other.to_owned(),
    };
    let arch = p.architecture.to_ascii_lowercase();
    let variant = p.variant.as_deref().unwrap_or("").to_ascii_lowercase();
    let (arch, variant) = match arch.as_str() {
        "i386" => ("386".to_owned(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".to_owned(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".to_owned(),
                _ => variant,
            };
            ("arm64".to_owned(), v)
        }
        "armhf" => ("arm".to_owned(), "v7".to_owned()),
        "armel" => ("arm".to_owned(), "v6".to_owned()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".to_owned(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".to_owned(), v)
        }
        _ => (arch, variant),
    };
    Normal { os, arch, variant }
}

/// How a platform is shown: `os/arch[/variant]` as listed.
fn show(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// The one entry of `index` for `wanted` (after normalization); entries without a platform
/// (such as attestation manifests) never match.
pub fn select_platform<'a>(
    index: &'a ImageIndex,
    wanted: &Platform,
) -> Result<&'a Descriptor, PlatformError> {
    let want = normalize(wanted);
    let matches: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| d.platform().is_some_and(|p| normalize(p) == want))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(PlatformError::NoMatch {
            wanted: want.to_string(),
            available: index
                .manifests()
                .iter()
                .filter_map(|d| d.platform().map(show))
                .collect(),
        }),
        many => Err(PlatformError::Ambiguous {
            wanted: want.to_string(),
            matches: many
                .iter()
                .map(|d| {
                    let p = d.platform().map(show).unwrap_or_default();
                    let mut s = format!("{} ({p}", d.digest());
                    if let Some(v) = d.platform().and_then(|p| p.os_version.as_deref()) {
                        s.push_str(&format!(", os.version {v}"));
                    }
                    s.push(')');
                    s
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, platform: Option<&str>) -> serde_json::Value {
        let digest = tollgate_verifier::digest::Digest::sha256(&[n]);
        let mut e = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest.to_string(),
            "size": 100 + u64::from(n),
        });
        if let Some(p) = platform {
            let parts: Vec<&str> = p.split('/').collect();
            e["platform"] = serde_json::json!({"os": parts[0], "architecture": parts[1]});
            if let Some(v) = parts.get(2) {
                e["platform"]["variant"] = (*v).into();
            }
        }
        e
    }

    fn index(entries: &[(u8, Option<&str>)]) -> ImageIndex {
        let manifests: Vec<_> = entries.iter().map(|(n, p)| entry(*n, *p)).collect();
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))
        .unwrap();
        ImageIndex::parse(&bytes, None).unwrap()
    }

    fn pick(idx: &ImageIndex, wanted: &str) -> Result<u64, PlatformError> {
        select_platform(idx, &parse_platform(wanted).unwrap()).map(|d| d.size() - 100)
    }

    #[test]
    fn exact_and_normalized_matches() {
        let idx = index(&[
            (1, Some("linux/amd64")),
            (2, Some("linux/arm64/v8")),
            (3, Some("linux/arm/v7")),
            (4, Some("linux/arm/v6")),
            (5, Some("unknown/unknown")),
            (6, None),
            (7, Some("windows/amd64")),
        ]);
        assert_eq!(pick(&idx, "linux/amd64"), Ok(1));
        assert_eq!(pick(&idx, "linux/x86_64"), Ok(1));
        assert_eq!(pick(&idx, "Linux/AMD64/v1"), Ok(1));
        assert_eq!(pick(&idx, "linux/arm64"), Ok(2));
        assert_eq!(pick(&idx, "linux/aarch64/8"), Ok(2));
        assert_eq!(pick(&idx, "linux/arm"), Ok(3));
        assert_eq!(pick(&idx, "linux/armhf"), Ok(3));
        assert_eq!(pick(&idx, "linux/arm/6"), Ok(4));
        assert_eq!(pick(&idx, "windows/amd64"), Ok(7));
        // An index entry without a variant matches the default variant too.
        let idx = index(&[(1, Some("linux/arm64")), (2, Some("linux/arm"))]);
        assert_eq!(pick(&idx, "linux/arm64/v8"), Ok(1));
        assert_eq!(pick(&idx, "linux/arm/v7"), Ok(2));
    }

    #[test]
    fn no_match_lists_what_there_is() {
        let idx = index(&[
            (1, Some("linux/amd64")),
            (2, Some("linux/arm/v6")),
            (3, None),
        ]);
        for wanted in [
            "linux/arm64",
            "linux/arm/v7",
            "darwin/amd64",
            "linux/amd64/v3",
        ] {
            let err = pick(&idx, wanted).unwrap_err();
            assert!(
                matches!(err, PlatformError::NoMatch { .. }),
                "{wanted}: {err}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("has: linux/amd64, linux/arm/v6"),
                "{wanted}: {msg}"
            );
        }
        let err = pick(&index(&[(1, None)]), "linux/amd64").unwrap_err();
        assert!(err.to_string().contains("no platform entries"), "{err}");
    }

    #[test]
    fn ambiguous_matches_are_refused() {
        let idx = index(&[
            (1, Some("linux/arm64")),
            (2, Some("linux/arm64/v8")),
            (3, Some("linux/amd64")),
        ]);
        let err = pick(&idx, "linux/arm64").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, PlatformError::Ambiguous { .. }), "{msg}");
        assert!(msg.contains("2 manifests for linux/arm64"), "{msg}");
        assert!(
            msg.contains("(linux/arm64)") && msg.contains("(linux/arm64/v8)"),
            "{msg}"
        );
        assert!(msg.contains("by digest"), "{msg}");
    }

    #[test]
    fn platform_text() {
        let p = parse_platform("linux/arm64/v8").unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm64"));
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(parse_platform("linux/amd64").unwrap().variant, None);
        for bad in [
            "",
            "linux",
            "linux/",
            "/amd64",
            "linux/arm/v7/x",
            "linux/am d64",
        ] {
            let err = parse_platform(bad).unwrap_err();
            assert!(err.to_string().contains("OS/ARCH"), "{bad}: {err}");
        }
    }
}
