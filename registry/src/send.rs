//! Sending requests: every request the client makes, its own (`reqwest`) and oci-client's,
//! goes through here to get the repository's authorization, one renewal of it after a 401,
//! 401/403 turned into errors that say what to do, and retries with backoff (see
//! [`crate::retry`]) of transport errors, 429 and 5xx.

use std::future::Future;
use std::time::{Duration, SystemTime};

use oci_client::errors::{OciDistributionError, OciErrorCode};
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::auth::Access;
use crate::client::{Client, oci_detail};
use crate::error::Error;
use crate::reference::Reference;
use crate::retry::{parse_retry_after, retryable_status, retryable_transport};

/// What an oci-client error means for the next step.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Unauthorized,
    Denied,
    Transient,
    Fatal,
}

fn classify_status(status: u16) -> Failure {
    match status {
        401 => Failure::Unauthorized,
        403 => Failure::Denied,
        s if retryable_status(s) => Failure::Transient,
        _ => Failure::Fatal,
    }
}

fn classify(e: &OciDistributionError) -> Failure {
    match e {
        OciDistributionError::UnauthorizedError { .. } => Failure::Unauthorized,
        OciDistributionError::ServerError { code, .. } => classify_status(*code),
        OciDistributionError::RegistryError { envelope, .. } => {
            let has = |code: OciErrorCode| envelope.errors.iter().any(|e| e.code == code);
            if has(OciErrorCode::Unauthorized) {
                Failure::Unauthorized
            } else if has(OciErrorCode::Denied) {
                Failure::Denied
            } else if has(OciErrorCode::Toomanyrequests) {
                Failure::Transient
            } else {
                Failure::Fatal
            }
        }
        OciDistributionError::RequestError(re) => match re.status() {
            Some(s) => classify_status(s.as_u16()),
            None if retryable_transport(re) => Failure::Transient,
            None => Failure::Fatal,
        },
        _ => Failure::Fatal,
    }
}

/// Attempts made and allowed, and whether the authorization was renewed already.
#[derive(Debug)]
pub(crate) struct Tries {
    attempt: u32,
    attempts: u32,
    renewed: bool,
}

/// `last`, or `last` with the number of attempts made when there was more than one.
fn exhausted(attempts: u32, last: Error) -> Error {
    if attempts <= 1 {
        last
    } else {
        Error::RetriesExhausted {
            attempts,
            last: Box::new(last),
        }
    }
}

/// An error and its causes on one line: reqwest's own message leaves out the cause
/// ("connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl Client {
    fn request_error(&self, r: &Reference, operation: &str, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                operation: operation.to_owned(),
                registry: r.registry().to_owned(),
                repository: r.repository_name().to_owned(),
                seconds: self.options.timeout.as_secs(),
            }
        } else {
            Self::transport(r, operation, error_chain(e))
        }
    }

    /// Sends the request `build` makes (once per attempt), retried on transport errors, 429 and
    /// retryable 5xx as [`crate::Options::retry`] says, waiting `Retry-After` when the
    /// registry sends one. Returns the first answer that is not retried. Only for idempotent
    /// requests.
    pub(crate) async fn send_retrying(
        &self,
        r: &Reference,
        operation: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, Error> {
        let policy = &self.options.retry;
        let attempts = policy.attempts.max(1);
        let mut attempt = 1;
        loop {
            let wait = match build().send().await {
                Ok(res) if !retryable_status(res.status().as_u16()) => return Ok(res),
                Ok(res) => {
                    let retry_after = res
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    if attempt >= attempts {
                        let last = self.status_error(r, operation, res).await;
                        return Err(exhausted(attempt, last));
                    }
                    match retry_after {
                        Some(d) if d > policy.max_retry_after => {
                            return Err(Error::RetryAfterTooLong {
                                operation: operation.to_owned(),
                                registry: r.registry().to_owned(),
                                repository: r.repository_name().to_owned(),
                                status: res.status().as_u16(),
                                seconds: d.as_secs(),
                                limit: policy.max_retry_after.as_secs(),
                            });
                        }
                        Some(d) => d,
                        None => policy.backoff(attempt),
                    }
                }
                Err(e) => {
                    let err = self.request_error(r, operation, &e);
                    if !retryable_transport(&e) {
                        return Err(err);
                    }
                    if attempt >= attempts {
                        return Err(exhausted(attempt, err));
                    }
                    policy.backoff(attempt)
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// [`Client::send_retrying`] with the repository's authorization for `access`. A 401 to an
    /// unauthorized request brings the registry's challenge and the request goes again with
    /// what it asks for; a 401 to an authorized one drops the token and tries once more with a
    /// new one. Any further 401 and every 403 are errors.
    pub(crate) async fn send(
        &self,
        r: &Reference,
        access: Access,
        operation: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, Error> {
        let (mut discovered, mut renewed) = (false, false);
        loop {
            let grant = self.grant(r, access, false).await?;
            let header = grant.header();
            let res = self
                .send_retrying(r, operation, || match &header {
                    Some(h) => build().header(AUTHORIZATION, h.clone()),
                    None => build(),
                })
                .await?;
            match res.status() {
                StatusCode::UNAUTHORIZED if header.is_none() && !discovered => {
                    discovered = true;
                    self.renew(r, access, Some(res.headers()));
                }
                StatusCode::UNAUTHORIZED if header.is_some() && !renewed => {
                    renewed = true;
                    self.renew(r, access, Some(res.headers()));
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(Self::unauthorized(r, operation, grant.origin));
                }
                StatusCode::FORBIDDEN => return Err(Self::denied(r, operation, grant.origin)),
                _ => return Ok(res),
            }
        }
    }

    /// Runs the oci-client call `call` makes (once per attempt) with the repository's
    /// authorization for `access` installed, each attempt under `limit`: one renewal after a
    /// 401, retries of transient failures when `idempotent`.
    pub(crate) async fn with_oci<T, Fut>(
        &self,
        r: &Reference,
        access: Access,
        operation: &str,
        limit: Duration,
        idempotent: bool,
        call: impl Fn() -> Fut,
    ) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut tries = self.tries(idempotent);
        loop {
            let grant = self.prepare_oci(r, access).await?;
            let result = self
                .timed(r, operation, limit, async { Ok(call().await) })
                .await?;
            match result {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.oci_failed(r, access, operation, &e, grant.origin, &mut tries)
                        .await?;
                }
            }
        }
    }

    /// A fresh count of tries (one only, unless `idempotent`).
    pub(crate) fn tries(&self, idempotent: bool) -> Tries {
        Tries {
            attempt: 1,
            attempts: if idempotent {
                self.options.retry.attempts.max(1)
            } else {
                1
            },
            renewed: false,
        }
    }

    /// After an oci-client call failed with `e`: `Ok` to try again (a 401 renews the
    /// authorization once; a transient failure waits its backoff), or the error to give up
    /// with.
    pub(crate) async fn oci_failed(
        &self,
        r: &Reference,
        access: Access,
        operation: &str,
        e: &OciDistributionError,
        origin: Option<String>,
        tries: &mut Tries,
    ) -> Result<(), Error> {
        match classify(e) {
            Failure::Unauthorized if !tries.renewed => {
                tries.renewed = true;
                self.renew(r, access, None);
                Ok(())
            }
            Failure::Unauthorized => Err(Self::unauthorized(r, operation, origin)),
            Failure::Denied => Err(Self::denied(r, operation, origin)),
            Failure::Transient if tries.attempt < tries.attempts => {
                tokio::time::sleep(self.options.retry.backoff(tries.attempt)).await;
                tries.attempt += 1;
                Ok(())
            }
            Failure::Transient => Err(exhausted(
                tries.attempt,
                Self::transport(r, operation, oci_detail(e)),
            )),
            Failure::Fatal => Err(Self::transport(r, operation, oci_detail(e))),
        }
    }

    /// A 401 the client could not get past.
    pub(crate) fn unauthorized(r: &Reference, operation: &str, origin: Option<String>) -> Error {
        Error::Unauthorized {
            operation: operation.to_owned(),
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
            origin,
        }
    }

    /// A 403.
    pub(crate) fn denied(r: &Reference, operation: &str, origin: Option<String>) -> Error {
        Error::Denied {
            operation: operation.to_owned(),
            registry: r.registry().to_owned(),
            repository: r.repository_name().to_owned(),
            origin,
        }
    }

    /// The body of `res`, at most `limit` bytes (more is an error), under the request timeout.
    pub(crate) async fn read_limited(
        &self,
        r: &Reference,
        operation: &str,
        mut res: Response,
        limit: u64,
    ) -> Result<Vec<u8>, Error> {
        let too_large = || {
            Self::transport(
                r,
                operation,
                format!("the answer is larger than {limit} bytes"),
            )
        };
        if res.content_length().is_some_and(|l| l > limit) {
            return Err(too_large());
        }
        self.timed(r, operation, self.options.timeout, async {
            let mut bytes = Vec::new();
            while let Some(chunk) = res
                .chunk()
                .await
                .map_err(|e| self.request_error(r, operation, &e))?
            {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > limit {
                    return Err(too_large());
                }
            }
            Ok(bytes)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_errors_are_classified() {
        let server = |code| OciDistributionError::ServerError {
            code,
            url: "u".into(),
            message: String::new(),
        };
        assert_eq!(classify(&server(503)), Failure::Transient);
        assert_eq!(classify(&server(429)), Failure::Transient);
        assert_eq!(classify(&server(404)), Failure::Fatal);
        assert_eq!(classify(&server(401)), Failure::Unauthorized);
        assert_eq!(classify(&server(403)), Failure::Denied);
        assert_eq!(
            classify(&OciDistributionError::UnauthorizedError { url: "u".into() }),
            Failure::Unauthorized
        );
        let envelope = |code: &str| {
            serde_json::from_str(&format!(
                r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#
            ))
            .unwrap()
        };
        for (code, want) in [
            ("DENIED", Failure::Denied),
            ("TOOMANYREQUESTS", Failure::Transient),
            ("MANIFEST_UNKNOWN", Failure::Fatal),
            ("UNAUTHORIZED", Failure::Unauthorized),
        ] {
            let e = OciDistributionError::RegistryError {
                envelope: envelope(code),
                url: "u".into(),
            };
            assert_eq!(classify(&e), want, "{code}");
        }
        assert_eq!(
            classify(&OciDistributionError::DigestError(
                oci_client::errors::DigestError::UnsupportedAlgorithm("x".into())
            )),
            Failure::Fatal
        );
    }
}
