//! PEM armour (RFC 7468) for key files: finding the one block in a file and writing blocks
//! byte-identical to OpenSSL and python-cryptography.
//!
//! Hand-written on purpose. Writing must produce exactly `-----BEGIN L-----\n`, 64-column
//! standard base64 lines and `-----END L-----\n`, because model_signing's `publicKey.hint` is
//! the SHA-256 of that text. Reading must take what real tools leave in key files, which
//! `pem-rfc7468`'s strict decoder refuses: text before the block (OpenSSL's `Bag Attributes`),
//! CRLF line ends, trailing blanks, other line widths. Legacy OpenSSL encryption headers
//! (`Proc-Type: 4,ENCRYPTED`) are recognised so they can be refused by name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::KeyError;

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// One decoded PEM block.
pub(crate) struct Block {
    /// The label between `BEGIN ` and the dashes, e.g. `PUBLIC KEY`.
    pub(crate) label: String,
    /// The decoded body (secret for private keys, so zeroized on drop).
    pub(crate) der: Zeroizing<Vec<u8>>,
}

/// Whether `bytes` looks like PEM (a `-----BEGIN ` line somewhere near the start).
pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes
        .windows(BEGIN.len())
        .take(64 * 1024)
        .any(|w| w == BEGIN.as_bytes())
}

/// Decodes the first PEM block in `text`. Anything after its END line is ignored.
pub(crate) fn decode(bytes: &[u8]) -> Result<Block, KeyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| KeyError::Pem {
        reason: "file is not UTF-8 text",
    })?;
    let start = text.find(BEGIN).ok_or(KeyError::Pem {
        reason: "no -----BEGIN line",
    })?;
    let rest = &text[start + BEGIN.len()..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let begin_line = rest[..line_end].trim_end();
    let label = begin_line.strip_suffix(DASHES).ok_or(KeyError::Pem {
        reason: "BEGIN line does not end with -----",
    })?;
    if label.len() > 64
        || !label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
    {
        return Err(KeyError::Pem {
            reason: "BEGIN line has an invalid label",
        });
    }
    let body_and_end = rest.get(line_end + 1..).unwrap_or("");
    let end_marker = format!("{END}{label}{DASHES}");
    let end = body_and_end.find(&end_marker).ok_or(KeyError::Pem {
        reason: "no matching -----END line (file truncated?)",
    })?;
    let body = &body_and_end[..end];
    if body.contains("Proc-Type:") || body.contains("DEK-Info:") {
        return Err(KeyError::LegacyPemEncryption);
    }
    let mut b64 = Zeroizing::new(String::with_capacity(body.len()));
    for line in body.lines() {
        let line = line.trim();
        if line.contains(':') {
            return Err(KeyError::Pem {
                reason: "unexpected header line inside the PEM block",
            });
        }
        b64.push_str(line);
    }
    let der = STANDARD.decode(b64.as_bytes()).map_err(|_| KeyError::Pem {
        reason: "body is not valid base64",
    })?;
    if der.is_empty() {
        return Err(KeyError::Pem {
            reason: "PEM block is empty",
        });
    }
    Ok(Block {
        label: label.to_owned(),
        der: Zeroizing::new(der),
    })
}

/// Encodes `der` as OpenSSL does: 64-column standard base64, `\n` line ends, a final newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    let mut out = Zeroizing::new(String::with_capacity(
        b64.len() + b64.len() / 64 + 2 * label.len() + 40,
    ));
    out.push_str(BEGIN);
    out.push_str(label);
    out.push_str(DASHES);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every 64-byte chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(END);
    out.push_str(label);
    out.push_str(DASHES);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrapping() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = encode("PUBLIC KEY", &der);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
        let block = decode(pem.as_bytes()).unwrap();
        assert_eq!(block.label, "PUBLIC KEY");
        assert_eq!(&block.der[..], &der[..]);
    }

    #[test]
    fn lenient_reading() {
        let pem = "Bag Attributes\r\n    localKeyID: 01\r\n-----BEGIN PRIVATE KEY-----\r\nAAEC\r\nAwQ=  \r\n-----END PRIVATE KEY-----\r\ntrailing";
        let block = decode(pem.as_bytes()).unwrap();
        assert_eq!(block.label, "PRIVATE KEY");
        assert_eq!(&block.der[..], &[0, 1, 2, 3, 4]);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b"\xff\xfe",
            b"-----BEGIN PUBLIC KEY",
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n",
            b"-----BEGIN PUBLIC KEY-----\nA!AA\n-----END PUBLIC KEY-----\n",
            b"-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n",
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN pub-----\nAAAA\n-----END pub-----\n",
        ];
        for case in cases {
            assert!(decode(case).is_err(), "{:?}", String::from_utf8_lossy(case));
        }
        let legacy = b"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(matches!(decode(legacy), Err(KeyError::LegacyPemEncryption)));
    }
}
