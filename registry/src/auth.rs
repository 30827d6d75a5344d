//! Registry authentication: the registry's `WWW-Authenticate` challenge (from the first 401,
//! or from `GET /v2/` before oci-client calls; cached per registry), HTTP basic credentials, and the distribution token flow (docker registry token
//! spec): `GET realm?service=…&scope=repository:NAME:ACTIONS` with basic credentials or
//! anonymously, or the OAuth2 `grant_type=refresh_token` POST for identity tokens; the token
//! from `token` or `access_token`, cached per registry and scope until `expires_in` (at least
//! 60 s) runs out, dropped and fetched again when the registry answers 401.
//!
//! The resulting [`Grant`] authorizes both the client's own `reqwest` requests (as an
//! `Authorization` header marked sensitive) and oci-client's (installed in its token cache by
//! [`Client::prepare_oci`], so oci-client never runs its own token flow). Credentials and
//! tokens never travel over plain HTTP to a host that is not loopback; token responses are
//! bounded; nothing is logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use oci_client::RegistryOperation;
use oci_client::secrets::RegistryAuth;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::client::Client;
use crate::credentials::{Credential, Found, Secret};
use crate::error::Error;
use crate::reference::Reference;

/// Largest token response read.
const MAX_TOKEN_RESPONSE: u64 = 1 << 20;
/// Shortest token lifetime assumed (the token spec's default, as docker's client).
const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// The OAuth2 client id sent with refresh-token grants.
const CLIENT_ID: &str = "tollgate";

/// What an operation needs to do in a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    /// Read manifests, blobs, tags, referrers.
    Pull,
    /// Write (and read) them.
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "pull,push",
        }
    }

    /// The oci-client operations a grant for this access is installed for.
    fn oci_operations(self) -> &'static [RegistryOperation] {
        match self {
            Self::Pull => &[RegistryOperation::Pull],
            Self::Push => &[RegistryOperation::Push, RegistryOperation::Pull],
        }
    }
}

/// A registry's answer to `GET /v2/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// No authentication asked for.
    None,
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` value (`Scheme k=v, k="quoted \" v", …`): the first Bearer or
/// Basic challenge; `None` for anything else.
pub(crate) fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
    })
}

/// `k=v` and `k="v"` pairs separated by commas (RFC 9110 auth-param).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_owned();
        if name.is_empty() || chars.next() != Some('=') {
            return out;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_owned();
        }
        out.push((name, value));
    }
}

/// How requests to one repository are authorized.
#[derive(Clone, Debug, Default)]
pub(crate) struct Grant {
    value: Option<GrantValue>,
    /// Where the credentials came from; `None` when none were used.
    pub(crate) origin: Option<String>,
}

#[derive(Clone, Debug)]
enum GrantValue {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Grant {
    /// The `Authorization` header, marked sensitive (kept out of debug output and HPACK tables).
    pub(crate) fn header(&self) -> Option<HeaderValue> {
        let text = match self.value.as_ref()? {
            GrantValue::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            GrantValue::Bearer(token) => format!("Bearer {}", token.expose()),
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// The same authorization for oci-client.
    pub(crate) fn oci_auth(&self) -> RegistryAuth {
        match &self.value {
            None => RegistryAuth::Anonymous,
            Some(GrantValue::Basic { username, password }) => {
                RegistryAuth::Basic(username.clone(), password.expose().to_owned())
            }
            Some(GrantValue::Bearer(t)) => RegistryAuth::Bearer(t.expose().to_owned()),
        }
    }
}

/// Cached authentication state, shared by clones of a [`Client`].
#[derive(Default)]
pub(crate) struct AuthCache {
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    challenges: HashMap<String, Challenge>,
    found: HashMap<String, Option<Found>>,
    tokens: HashMap<(String, String), (Secret, Instant)>,
}

impl AuthCache {
    fn with<T>(&self, f: impl FnOnce(&mut CacheState) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of a cache: use it.
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

/// A token endpoint's answer.
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

fn scope(r: &Reference, access: Access) -> String {
    format!("repository:{}:{}", r.repository_name(), access.actions())
}

impl Client {
    /// The registry's challenge as last seen (from a 401 or `GET /v2/`). When none was seen
    /// yet: `GET /v2/` if `discover`, else `None` (the request goes out anonymously and its
    /// 401, if any, brings the challenge: no extra round trip for anonymous registries).
    async fn challenge(&self, r: &Reference, discover: bool) -> Result<Option<Challenge>, Error> {
        let registry = r.registry().to_owned();
        if let Some(c) = self
            .auth_cache
            .with(|s| s.challenges.get(&registry).cloned())
        {
            return Ok(Some(c));
        }
        if !discover {
            return Ok(None);
        }
        let url = format!("{}://{registry}/v2/", self.scheme());
        let res = self
            .send_retrying(r, "check registry authentication", || self.http.get(&url))
            .await?;
        let challenge = if res.status() == StatusCode::UNAUTHORIZED {
            challenge_of(res.headers()).unwrap_or(Challenge::Basic)
        } else {
            Challenge::None
        };
        self.auth_cache
            .with(|s| s.challenges.insert(registry, challenge.clone()));
        Ok(Some(challenge))
    }

    /// The credential for `r`'s registry (looked up once per registry; may run a helper).
    async fn found(&self, r: &Reference) -> Result<Option<Found>, Error> {
        let registry = r.registry().to_owned();
        if let Some(f) = self.auth_cache.with(|s| s.found.get(&registry).cloned()) {
            return Ok(f);
        }
        let credentials = self.options.credentials.clone();
        let host = registry.clone();
        let found = tokio::task::spawn_blocking(move || credentials.lookup(&host))
            .await
            .map_err(|e| Self::transport(r, "look up credentials", e))??;
        self.auth_cache
            .with(|s| s.found.insert(registry, found.clone()));
        Ok(found)
    }

    /// Refuses to send `found`'s credentials over plain HTTP to `host` unless it is loopback.
    fn check_credential_transport(
        &self,
        r: &Reference,
        url_scheme: &str,
        host: &str,
        loopback: bool,
        found: &Found,
    ) -> Result<(), Error> {
        if url_scheme == "http" && !loopback {
            return Err(Error::CredentialsOverPlainHttp {
                registry: r.registry().to_owned(),
                host: host.to_owned(),
                origin: found.origin.clone(),
            });
        }
        Ok(())
    }

    /// How to authorize `access` to `r`'s repository: nothing, basic credentials or a bearer
    /// token (from the cache or the registry's token server). With `discover`, a registry not
    /// heard from yet is asked with `GET /v2/` (needed before oci-client calls, whose errors
    /// do not carry the challenge).
    pub(crate) async fn grant(
        &self,
        r: &Reference,
        access: Access,
        discover: bool,
    ) -> Result<Grant, Error> {
        let challenge = match self.challenge(r, discover).await? {
            None | Some(Challenge::None) => return Ok(Grant::default()),
            Some(c) => c,
        };
        let found = self.found(r).await?;
        if let Some(f) = &found {
            self.check_credential_transport(r, self.scheme(), r.registry(), r.is_loopback(), f)?;
        }
        let origin = found.as_ref().map(|f| f.origin.clone());
        let granted = |value| {
            Ok(Grant {
                value: Some(value),
                origin: origin.clone(),
            })
        };
        match (&challenge, found.as_ref().map(|f| &f.credential)) {
            (_, None) if challenge == Challenge::Basic => Ok(Grant::default()),
            (_, Some(Credential::RegistryToken(t))) => granted(GrantValue::Bearer(t.clone())),
            (Challenge::Basic, Some(Credential::Basic { username, password })) => {
                granted(GrantValue::Basic {
                    username: username.clone(),
                    password: password.clone(),
                })
            }
            (Challenge::Basic, Some(Credential::IdentityToken(_))) => Err(Error::Credentials {
                source_name: origin.unwrap_or_default(),
                detail: format!(
                    "it holds an identity token, but {} asks for basic authentication: log in \
                     with a username and password",
                    r.registry()
                ),
            }),
            (Challenge::Bearer { realm, service }, _) => {
                let scope = scope(r, access);
                let key = (r.registry().to_owned(), scope.clone());
                let cached = self.auth_cache.with(|s| {
                    s.tokens
                        .get(&key)
                        .filter(|(_, until)| Instant::now() < *until)
                        .map(|(t, _)| t.clone())
                });
                let token = match cached {
                    Some(t) => t,
                    None => {
                        let (t, lifetime) = self
                            .fetch_token(r, realm, service.as_deref(), &scope, found.as_ref())
                            .await?;
                        // Renew a little early: the token must still be valid when it arrives.
                        let until = Instant::now() + lifetime - lifetime / 10;
                        self.auth_cache
                            .with(|s| s.tokens.insert(key, (t.clone(), until)));
                        t
                    }
                };
                granted(GrantValue::Bearer(token))
            }
            // Challenge::None returned above; Basic without credentials handled first.
            (Challenge::None | Challenge::Basic, _) => Ok(Grant::default()),
        }
    }

    /// After a 401: forget the token for `access` and take the challenge the answer carried.
    pub(crate) fn renew(&self, r: &Reference, access: Access, headers: Option<&HeaderMap>) {
        let key = (r.registry().to_owned(), scope(r, access));
        let challenge = headers.and_then(challenge_of);
        self.auth_cache.with(|s| {
            s.tokens.remove(&key);
            if let Some(c) = challenge {
                s.challenges.insert(r.registry().to_owned(), c);
            }
        });
    }

    /// Fetches a token for `scope` from `realm`.
    async fn fetch_token(
        &self,
        r: &Reference,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        found: Option<&Found>,
    ) -> Result<(Secret, Duration), Error> {
        let operation = format!("get a token from {realm}");
        let mut url = Url::parse(realm)
            .map_err(|e| Self::transport(r, &operation, format!("the realm is not a URL: {e}")))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback || self.options.insecure => {}
            _ => {
                return Err(Self::transport(
                    r,
                    &operation,
                    "the token realm must be an https URL (plain http only to loopback, or with \
                     the insecure option)",
                ));
            }
        }
        if let Some(f) = found {
            self.check_credential_transport(r, url.scheme(), &host, loopback, f)?;
        }
        let mut form = vec![("scope", scope.to_owned())];
        if let Some(s) = service {
            form.push(("service", s.to_owned()));
        }
        let res = match found.map(|f| &f.credential) {
            Some(Credential::IdentityToken(refresh)) => {
                form.push(("grant_type", "refresh_token".to_owned()));
                form.push(("client_id", CLIENT_ID.to_owned()));
                form.push(("refresh_token", refresh.expose().to_owned()));
                let mut encoder = Url::parse("http://form.invalid/").expect("static URL");
                encoder.query_pairs_mut().extend_pairs(&form);
                let body = encoder.query().unwrap_or_default().to_owned();
                self.send_retrying(r, &operation, || {
                    self.http
                        .post(url.clone())
                        .header(
                            reqwest::header::CONTENT_TYPE,
                            "application/x-www-form-urlencoded",
                        )
                        .body(body.clone())
                })
                .await?
            }
            credential => {
                url.query_pairs_mut().extend_pairs(&form);
                self.send_retrying(r, &operation, || {
                    let req = self.http.get(url.clone());
                    match credential {
                        Some(Credential::Basic { username, password }) => {
                            req.basic_auth(username, Some(password.expose()))
                        }
                        _ => req,
                    }
                })
                .await?
            }
        };
        let status = res.status();
        let origin = found.map(|f| f.origin.clone());
        if status == StatusCode::UNAUTHORIZED {
            return Err(Self::unauthorized(r, &operation, origin));
        }
        if status == StatusCode::FORBIDDEN {
            return Err(Self::denied(r, &operation, origin));
        }
        if !status.is_success() {
            return Err(self.status_error(r, &operation, res).await);
        }
        let bytes = self
            .read_limited(r, &operation, res, MAX_TOKEN_RESPONSE)
            .await?;
        let answer: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            Self::transport(r, &operation, format!("the answer is not token JSON: {e}"))
        })?;
        let token = answer
            .token
            .filter(|t| !t.is_empty())
            .or(answer.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                Self::transport(
                    r,
                    &operation,
                    "the answer has neither token nor access_token",
                )
            })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(0)).max(MIN_TOKEN_LIFETIME);
        Ok((Secret::new(token), lifetime))
    }

    /// Makes oci-client's next requests for `access` to `r` carry this client's grant: basic
    /// credentials are stored for the registry, bearer tokens put in its token cache (so
    /// oci-client never runs its own, unbounded token flow). Returns the grant.
    pub(crate) async fn prepare_oci(&self, r: &Reference, access: Access) -> Result<Grant, Error> {
        let grant = self.grant(r, access, true).await?;
        match &grant.value {
            None => {}
            Some(GrantValue::Basic { .. }) => {
                self.oci
                    .store_auth_if_needed(r.registry(), &grant.oci_auth())
                    .await;
            }
            Some(GrantValue::Bearer(_)) => {
                let oci_ref = Self::oci_ref(r);
                for op in access.oci_operations() {
                    // A bearer grant makes no request: oci-client just caches the token.
                    let _ = self.oci.auth(&oci_ref, &grant.oci_auth(), *op).await;
                }
            }
        }
        Ok(grant)
    }

    /// The authorization for writing (and reading) `r`'s repository, for code outside this
    /// module: installed in oci-client (for calls on `self.oci`) and returned as the
    /// `Authorization` header value (marked sensitive) for requests sent with `reqwest`
    /// directly, such as streaming uploads; `None` when the registry asks for none. Refreshed
    /// tokens need a new call after a 401 (see [`Client::renew`]).
    #[allow(dead_code)] // The upload module's entry point; not every build of it calls it yet.
    pub(crate) async fn auth(&self, r: &Reference) -> Result<Option<HeaderValue>, Error> {
        Ok(self.prepare_oci(r, Access::Push).await?.header())
    }
}

fn challenge_of(headers: &HeaderMap) -> Option<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"bearer  service = "s\"x" , REALM=http://127.0.0.1:1/t"#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: Some("s\"x".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn grants_render_headers_and_hide_secrets() {
        let g = Grant {
            value: Some(GrantValue::Basic {
                username: "alice".into(),
                password: Secret::new("wonderland"),
            }),
            origin: Some("--username".into()),
        };
        let h = g.header().unwrap();
        assert_eq!(h.to_str().unwrap(), "Basic YWxpY2U6d29uZGVybGFuZA==");
        assert!(h.is_sensitive());
        assert!(!format!("{g:?}").contains("wonderland"));
        assert!(!format!("{:?}", g.oci_auth()).contains("wonderland"));
        let g = Grant {
            value: Some(GrantValue::Bearer(Secret::new("tok"))),
            origin: None,
        };
        assert_eq!(g.header().unwrap().to_str().unwrap(), "Bearer tok");
        assert!(!format!("{g:?}").contains("tok"));
        assert!(Grant::default().header().is_none());
    }
}
