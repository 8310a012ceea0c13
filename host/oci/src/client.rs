//! The OCI distribution API, as much of it as a bundle needs: the `/v2/` ping, blob
//! HEAD / upload (POST, then one monolithic PUT) / GET, manifest PUT / GET, with the
//! auth dance (basic, or a bearer token from the realm a challenge names).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::auth::{Challenge, Credentials};
use crate::digest::Digest;
use crate::error::OciError;
use crate::manifest::{Descriptor, MAX_MANIFEST_BYTES};
use crate::media;
use crate::reference::Reference;

/// How to reach a registry.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Who we are to the registry (see [`Credentials::resolve`]).
    pub credentials: Credentials,
    /// A PEM file of CA certificates trusted besides the system's (a private registry).
    pub ca_file: Option<PathBuf>,
    /// Plain HTTP, no TLS (`--insecure`). A loopback registry (`localhost`, `127.*`,
    /// `[::1]`) is tried over HTTPS first and then plain HTTP without it, as docker does.
    pub insecure: bool,
}

/// A configured HTTP client for registries; cheap to share across pushes and pulls.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    options: RegistryOptions,
}

impl Client {
    pub fn new(options: RegistryOptions) -> Result<Self, OciError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("plinth-oci/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120));
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).map_err(|e| OciError::CaFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| OciError::CaFile {
                    path: path.clone(),
                    reason: format!("not PEM certificates: {e}"),
                })?;
            if certs.is_empty() {
                return Err(OciError::CaFile {
                    path: path.clone(),
                    reason: "holds no PEM certificate".to_string(),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(OciError::Client)?;
        Ok(Self { http, options })
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }
}

/// What a session may do: the token scope asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Pull,
    Push,
}

/// One repository on one registry, authenticated as needed.
pub(crate) struct Session<'a> {
    client: &'a Client,
    /// The reference as the user wrote it, for every error.
    reference: String,
    registry: String,
    repository: String,
    base: Url,
    access: Access,
    authorization: Option<String>,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
}

impl<'a> Session<'a> {
    /// Pings `/v2/` (over HTTPS, or HTTP as [`RegistryOptions::insecure`] says) and
    /// authenticates when the registry asks.
    pub(crate) async fn open(
        client: &'a Client,
        reference: &Reference,
        access: Access,
    ) -> Result<Self, OciError> {
        let schemes: &[&str] = if client.options.insecure {
            &["http"]
        } else if reference.is_loopback() {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut first_error = None;
        for (attempt, scheme) in schemes.iter().enumerate() {
            let base_text = format!("{scheme}://{}/", reference.api_host());
            let base = Url::parse(&base_text).map_err(|e| {
                OciError::InvalidReference(crate::reference::InvalidReference {
                    reference: reference.to_string(),
                    reason: format!("`{base_text}` is not a URL: {e}"),
                })
            })?;
            let ping = base.join("v2/").expect("a fixed relative path joins");
            let response = match client.http.get(ping.clone()).send().await {
                Ok(response) => response,
                Err(source) => {
                    tracing::debug!(url = %ping, error = %error_chain(&source), "registry ping failed");
                    match &mut first_error {
                        None => {
                            first_error = Some(connect_error(reference.registry(), &ping, source))
                        }
                        // Neither scheme answered: say both were tried.
                        Some(OciError::Unreachable { url, .. }) => {
                            url.push_str(&format!(" and {ping}"));
                        }
                        Some(_) => {}
                    }
                    continue;
                }
            };
            // The plain-HTTP fallback counts only if a registry answers there: a TLS
            // registry answers plain HTTP with 400, and then the HTTPS failure (an
            // unknown CA, say) is the error to report.
            let status = response.status();
            if attempt > 0 && status != StatusCode::OK && status != StatusCode::UNAUTHORIZED {
                tracing::debug!(url = %ping, %status, "no registry over plain HTTP either");
                break;
            }
            let mut session = Self {
                client,
                reference: reference.to_string(),
                registry: reference.registry().to_string(),
                repository: reference.repository().to_string(),
                base,
                access,
                authorization: None,
            };
            if status == StatusCode::UNAUTHORIZED {
                session.authenticate(&response).await?;
            }
            tracing::debug!(registry = %session.registry, base = %session.base, "registry session open");
            return Ok(session);
        }
        Err(first_error.expect("a scheme failed before the loop ended"))
    }

    fn url(&self, path: &str) -> Url {
        let text = format!("{}v2/{}/{path}", self.base, self.repository);
        Url::parse(&text).expect("a URL from a parsed base and a checked repository")
    }

    fn scope(&self) -> String {
        let actions = match self.access {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        };
        format!("repository:{}:{actions}", self.repository)
    }

    fn action(&self) -> &'static str {
        match self.access {
            Access::Pull => "pull from",
            Access::Push => "push to",
        }
    }

    /// Answers a 401's challenge: basic credentials, or a bearer token from its realm.
    async fn authenticate(&mut self, response: &Response) -> Result<(), OciError> {
        let credentials = &self.client.options.credentials;
        let challenge = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(Challenge::parse);
        let unauthorized = |detail: &str| OciError::Unauthorized {
            reference: self.reference.clone(),
            had_credentials: !credentials.is_anonymous(),
            detail: detail.to_string(),
        };
        match challenge {
            None => Err(unauthorized(
                "no Basic or Bearer challenge in WWW-Authenticate",
            )),
            Some(Challenge::Basic) => match credentials.basic_header() {
                Some(header) => {
                    self.authorization = Some(header);
                    Ok(())
                }
                None => Err(unauthorized("")),
            },
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let token = self.fetch_token(&realm, service, scope).await?;
                self.authorization = Some(format!("Bearer {token}"));
                Ok(())
            }
        }
    }

    /// The token flow of the distribution spec: GET realm?service=..&scope=.., with
    /// basic credentials when there are any (anonymous tokens for public repositories).
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<String>,
        scope: Option<String>,
    ) -> Result<String, OciError> {
        let token_error = |reason: String| OciError::Token {
            reference: self.reference.clone(),
            realm: realm.to_string(),
            reason,
        };
        let mut url = Url::parse(realm).map_err(|e| token_error(format!("not a URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &service {
                query.append_pair("service", service);
            }
            // The challenge's scope is what the refused request needed; ours covers the
            // whole session (a ping's challenge carries none).
            let ours = self.scope();
            query.append_pair("scope", scope.as_deref().unwrap_or(&ours));
            if scope.as_deref().is_some_and(|s| s != ours) {
                query.append_pair("scope", &ours);
            }
        }
        let credentials = &self.client.options.credentials;
        let mut request = self.client.http.get(url);
        if let Some(header) = credentials.basic_header() {
            request = request.header(AUTHORIZATION, header);
        }
        let response = request
            .send()
            .await
            .map_err(|e| token_error(error_chain(&e)))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(OciError::Unauthorized {
                    reference: self.reference.clone(),
                    had_credentials: !credentials.is_anonymous(),
                    detail: format!("the token service {realm} answered {}", response.status()),
                });
            }
            status => return Err(token_error(format!("answered {status}"))),
        }
        let reply: TokenReply = response
            .json()
            .await
            .map_err(|e| token_error(format!("unreadable token reply: {e}")))?;
        reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| token_error("the reply holds no token".to_string()))
    }

    /// Sends a request, answering one auth challenge and sending it again if refused.
    async fn send(
        &mut self,
        method: Method,
        url: &Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, OciError> {
        let mut challenged = false;
        loop {
            let mut request = build(self.client.http.request(method.clone(), url.clone()));
            if let Some(header) = &self.authorization {
                request = request.header(AUTHORIZATION, header);
            }
            let response = request.send().await.map_err(|e| self.transport(url, e))?;
            if response.status() == StatusCode::UNAUTHORIZED && !challenged {
                challenged = true;
                self.authenticate(&response).await?;
                continue;
            }
            return Ok(response);
        }
    }

    fn transport(&self, url: &Url, source: reqwest::Error) -> OciError {
        if source.is_connect() {
            connect_error(&self.registry, url, source)
        } else {
            OciError::Transport {
                reference: self.reference.clone(),
                url: url.to_string(),
                source,
            }
        }
    }

    /// The error for a response that is not what `operation` expects.
    async fn failure(&self, response: Response, operation: &str) -> OciError {
        let status = response.status();
        let detail = match response.bytes().await {
            Ok(body) => match serde_json::from_slice::<Errors>(&body) {
                Ok(errors) if !errors.errors.is_empty() => errors
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(300)
                    .collect(),
            },
            Err(_) => String::new(),
        };
        match status {
            StatusCode::UNAUTHORIZED => OciError::Unauthorized {
                reference: self.reference.clone(),
                had_credentials: !self.client.options.credentials.is_anonymous(),
                detail,
            },
            StatusCode::FORBIDDEN => OciError::Forbidden {
                reference: self.reference.clone(),
                action: self.action(),
                detail,
            },
            _ => OciError::Registry {
                reference: self.reference.clone(),
                operation: operation.to_string(),
                status: status.as_u16(),
                detail,
            },
        }
    }

    /// Whether the repository already holds a blob (HEAD); a push skips those.
    pub(crate) async fn blob_exists(&mut self, digest: &Digest) -> Result<bool, OciError> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(Method::HEAD, &url, |r| r).await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.failure(response, &format!("HEAD blob {digest}")).await),
        }
    }

    /// Uploads one blob: POST opens an upload session, one PUT carries every byte.
    pub(crate) async fn upload_blob(
        &mut self,
        digest: &Digest,
        body: Bytes,
    ) -> Result<(), OciError> {
        let operation = format!("uploading blob {digest}");
        let start = self.url("blobs/uploads/");
        let response = self
            .send(Method::POST, &start, |r| {
                r.header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.failure(response, &operation).await);
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| start.join(l).ok())
            .ok_or_else(|| OciError::Registry {
                reference: self.reference.clone(),
                operation: operation.clone(),
                status: response.status().as_u16(),
                detail: "no usable Location header for the upload".to_string(),
            })?;
        let mut put = location;
        put.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let response = self
            .send(Method::PUT, &put, |r| {
                r.header(CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.failure(response, &operation).await);
        }
        Ok(())
    }

    /// Puts a manifest under a tag; the digest the registry reports must be ours.
    pub(crate) async fn put_manifest(
        &mut self,
        tag: &str,
        bytes: Bytes,
    ) -> Result<Digest, OciError> {
        let ours = Digest::of(&bytes);
        let url = self.url(&format!("manifests/{tag}"));
        let response = self
            .send(Method::PUT, &url, |r| {
                r.header(CONTENT_TYPE, media::IMAGE_MANIFEST)
                    .body(bytes.clone())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self
                .failure(response, &format!("putting the manifest for tag {tag}"))
                .await);
        }
        if let Some(theirs) = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok())
            && theirs != ours
        {
            return Err(OciError::DigestMismatch {
                reference: self.reference.clone(),
                what: "the pushed manifest (as the registry stored it)".to_string(),
                expected: ours,
                actual: theirs,
            });
        }
        Ok(ours)
    }

    /// Gets a manifest by tag or digest: its bytes, their digest (checked against the
    /// digest asked for, and the registry's `Docker-Content-Digest`), its content type.
    pub(crate) async fn get_manifest(
        &mut self,
        target: &str,
    ) -> Result<(Vec<u8>, Digest, Option<String>), OciError> {
        let url = self.url(&format!("manifests/{target}"));
        let accept = [
            media::IMAGE_MANIFEST,
            media::IMAGE_INDEX,
            media::DOCKER_MANIFEST,
            media::DOCKER_MANIFEST_LIST,
        ]
        .join(", ");
        let mut response = self
            .send(Method::GET, &url, |r| r.header(ACCEPT, accept.as_str()))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            let reference = self.reference.clone();
            let body = response.bytes().await.unwrap_or_default();
            let code = serde_json::from_slice::<Errors>(&body)
                .ok()
                .and_then(|e| e.errors.into_iter().next())
                .map_or_else(|| "404".to_string(), |e| e.code);
            return Err(OciError::ManifestUnknown { reference, code });
        }
        if response.status() != StatusCode::OK {
            return Err(self
                .failure(response, &format!("getting manifest {target}"))
                .await);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header_digest = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport(&url, e))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_MANIFEST_BYTES {
                return Err(OciError::MalformedManifest {
                    reference: self.reference.clone(),
                    reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
                });
            }
        }
        let actual = Digest::of(&bytes);
        let expected = target.parse::<Digest>().ok().or(header_digest);
        if let Some(expected) = expected
            && expected != actual
        {
            return Err(OciError::DigestMismatch {
                reference: self.reference.clone(),
                what: "the manifest".to_string(),
                expected,
                actual,
            });
        }
        Ok((bytes, actual, content_type))
    }

    /// Streams a blob into `dest`, hashing as it goes; the bytes must be the
    /// descriptor's size and digest, or `dest` is removed and the pull fails.
    pub(crate) async fn fetch_blob(
        &mut self,
        descriptor: &Descriptor,
        what: &str,
        dest: &Path,
    ) -> Result<(), OciError> {
        let result = self.fetch_blob_inner(descriptor, what, dest).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(dest).await;
        }
        result
    }

    async fn fetch_blob_inner(
        &mut self,
        descriptor: &Descriptor,
        what: &str,
        dest: &Path,
    ) -> Result<(), OciError> {
        let digest = &descriptor.digest;
        let url = self.url(&format!("blobs/{digest}"));
        let mut response = self.send(Method::GET, &url, |r| r).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(OciError::BlobUnknown {
                reference: self.reference.clone(),
                digest: digest.clone(),
                what: what.to_string(),
            });
        }
        if response.status() != StatusCode::OK {
            return Err(self
                .failure(response, &format!("getting blob {digest}"))
                .await);
        }
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(OciError::io(dest))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport(&url, e))?
        {
            size += chunk.len() as u64;
            if size > descriptor.size {
                return Err(OciError::SizeMismatch {
                    reference: self.reference.clone(),
                    what: what.to_string(),
                    expected: descriptor.size,
                    actual: size,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(OciError::io(dest))?;
        }
        file.sync_all().await.map_err(OciError::io(dest))?;
        if size != descriptor.size {
            return Err(OciError::SizeMismatch {
                reference: self.reference.clone(),
                what: what.to_string(),
                expected: descriptor.size,
                actual: size,
            });
        }
        let actual = Digest::from_hasher(hasher);
        if &actual != digest {
            return Err(OciError::DigestMismatch {
                reference: self.reference.clone(),
                what: what.to_string(),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// A failed connection: TLS refused (rustls reports through `io::ErrorKind::InvalidData`),
/// or no registry there at all.
fn connect_error(registry: &str, url: &Url, source: reqwest::Error) -> OciError {
    let mut cause: Option<&dyn std::error::Error> = Some(&source);
    let mut tls = None;
    while let Some(e) = cause {
        // An io::Error's `source()` skips the error it wraps: look inside too.
        let mut io = e.downcast_ref::<std::io::Error>();
        while let Some(inner) = io {
            if inner.kind() == std::io::ErrorKind::InvalidData {
                tls = Some(inner.to_string());
            }
            io = inner
                .get_ref()
                .and_then(|e| e.downcast_ref::<std::io::Error>());
        }
        cause = e.source();
    }
    match tls {
        Some(reason) => OciError::Tls {
            registry: registry.to_string(),
            url: url.to_string(),
            reason,
        },
        None => OciError::Unreachable {
            registry: registry.to_string(),
            url: url.to_string(),
            source,
        },
    }
}

/// An error and its causes on one line (reqwest's own message omits the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
