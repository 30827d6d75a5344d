//! PEM block scanning for certificate bundles, hand-written because the strict RFC 7468 decoder
//! in `pem-rfc7468` rejects what OpenSSL and every CA bundle accept: base64 lines of any width,
//! CRLF, and explanatory text (`# Issuer: ...`) between blocks. Still strict where leniency
//! would hide a mistake: a non-certificate block, a BEGIN without END, or PEM headers are errors.

use super::{MAX_BUNDLE_CERTS, X509Error};

/// One `CERTIFICATE` block: where it starts and its base64 text without whitespace.
pub(super) struct Block {
    /// 1-based line of the BEGIN line.
    pub(super) line: usize,
    /// The base64 characters of the body.
    pub(super) base64: Vec<u8>,
}

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";
const LABEL: &[u8] = b"CERTIFICATE";

/// Splits `input` into its certificate blocks, in order; text outside blocks is skipped.
pub(super) fn blocks(input: &[u8]) -> Result<Vec<Block>, X509Error> {
    let input = input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input); // UTF-8 BOM
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, raw) in input.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_ascii();
        let err = |block: usize, line: usize, problem: String| X509Error::Pem {
            block,
            line,
            problem,
        };
        match &mut open {
            None => {
                if line.starts_with(END) {
                    return Err(err(
                        out.len() + 1,
                        line_no,
                        "END line without a BEGIN line; the file is damaged".into(),
                    ));
                }
                if !line.starts_with(BEGIN) {
                    continue;
                }
                let label = line[BEGIN.len()..].strip_suffix(DASHES).ok_or_else(|| {
                    err(
                        out.len() + 1,
                        line_no,
                        "BEGIN line does not end in -----; the file is damaged".into(),
                    )
                })?;
                if label != LABEL {
                    return Err(err(
                        out.len() + 1,
                        line_no,
                        format!(
                            "is a {}, not a CERTIFICATE; pass certificates only",
                            printable(label)
                        ),
                    ));
                }
                if out.len() == MAX_BUNDLE_CERTS {
                    return Err(X509Error::TooManyCertificates {
                        what: "PEM input",
                        max: MAX_BUNDLE_CERTS,
                    });
                }
                open = Some(Block {
                    line: line_no,
                    base64: Vec::new(),
                });
            }
            Some(block) => {
                let index = out.len() + 1;
                if line.starts_with(END) {
                    let label = line[END.len()..].strip_suffix(DASHES);
                    if label != Some(LABEL) {
                        return Err(err(
                            index,
                            block.line,
                            format!(
                                "ends with {:?} on line {line_no}, expected \
                                 -----END CERTIFICATE-----",
                                printable(line)
                            ),
                        ));
                    }
                    if let Some(done) = open.take() {
                        out.push(done);
                    }
                } else if line.starts_with(BEGIN) {
                    return Err(err(
                        index,
                        block.line,
                        format!("has no END line before the next BEGIN on line {line_no}"),
                    ));
                } else if line.contains(&b':') {
                    return Err(err(
                        index,
                        block.line,
                        format!(
                            "has a PEM header on line {line_no} (encrypted or legacy PEM); \
                             certificates carry none"
                        ),
                    ));
                } else {
                    for &c in line {
                        match c {
                            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => {
                                block.base64.push(c);
                            }
                            c if c.is_ascii_whitespace() => {}
                            _ => {
                                return Err(err(
                                    index,
                                    block.line,
                                    format!(
                                        "line {line_no} has a character that is not base64; \
                                         the file is damaged"
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(block) = open {
        return Err(X509Error::Pem {
            block: out.len() + 1,
            line: block.line,
            problem: "has no -----END CERTIFICATE----- line; the file is truncated".into(),
        });
    }
    Ok(out)
}

/// A label or line for a message: printable ASCII only, at most 64 characters.
fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(64)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}
