//! Pushes and pulls against a real registry: Debian's `docker-registry` (the reference
//! `distribution` server), started here on free ports, anonymous over plain HTTP and
//! with htpasswd basic auth over TLS with a CA made by the test.
//!
//! Needs the registry binary (`tests/registry-setup.sh` installs it and prints its path:
//! `PLINTH_REGISTRY_BIN`, else `docker-registry` on the PATH). Without it every test
//! skips loudly, unless `PLINTH_REQUIRE_REGISTRY=1` makes that a failure.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plinth_oci::{
    Cache, Client, Credentials, Digest, ImageManifest, OciError, Reference, RegistryOptions, media,
    pull, push,
};

const USER: &str = "plinth";
const PASSWORD: &str = "correct horse battery staple";

/// An empty WebAssembly component: the preamble alone (magic, version 0x0d, layer 1)
/// is a valid component, which wasmparser and `wasm-tools validate` accept.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

fn registry_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PLINTH_REGISTRY_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "PLINTH_REGISTRY_BIN={} is not a file",
            bin.display()
        );
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("docker-registry"))
        .find(|p| p.is_file())
}

/// The registry binary, or `None` after a loud skip (a failure when required).
fn require_registry(test: &str) -> Option<PathBuf> {
    let found = registry_bin();
    if found.is_none() {
        if std::env::var("PLINTH_REQUIRE_REGISTRY").as_deref() == Ok("1") {
            panic!(
                "{test}: PLINTH_REQUIRE_REGISTRY=1 but no docker-registry (run tests/registry-setup.sh)"
            );
        }
        eprintln!(
            "SKIPPED {test}: no docker-registry binary (tests/registry-setup.sh installs it; \
             PLINTH_REQUIRE_REGISTRY=1 makes this a failure)"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Tls {
    ca_pem: PathBuf,
}

/// A running `docker-registry serve`, killed on drop.
struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    tls: Option<Tls>,
}

impl Registry {
    /// Plain HTTP, anonymous.
    fn anonymous(bin: &Path) -> Self {
        Self::start(bin, false, "")
    }

    /// Plain HTTP with the distribution token scheme: bearer tokens from `server`.
    fn token_auth(bin: &Path, server: &TokenServer) -> Self {
        let auth = format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
            server.port,
            server.cert_pem.display()
        );
        Self::start(bin, false, &auth)
    }

    /// htpasswd basic auth (USER / PASSWORD) over TLS with a CA of this test's own.
    fn basic_auth_tls(bin: &Path) -> Self {
        Self::start(bin, true, "")
    }

    fn start(bin: &Path, secure: bool, extra_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: plinth-test-secret\n",
            d.join("data").display()
        );
        let mut tls = None;
        if secure {
            use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca_cert = ca_params.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca_params, ca_key);
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            params
                .subject_alt_names
                .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
            let cert = params.signed_by(&key, &issuer).unwrap();
            std::fs::write(d.join("ca.pem"), ca_cert.pem()).unwrap();
            std::fs::write(d.join("cert.pem"), cert.pem()).unwrap();
            std::fs::write(d.join("key.pem"), key.serialize_pem()).unwrap();
            // The lowest cost bcrypt allows: the registry checks it on every request.
            let hash = bcrypt::hash(PASSWORD, 4).unwrap();
            std::fs::write(d.join("htpasswd"), format!("{USER}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: plinth-test\n    path: {}\n",
                d.join("cert.pem").display(),
                d.join("key.pem").display(),
                d.join("htpasswd").display()
            ));
            tls = Some(Tls {
                ca_pem: d.join("ca.pem"),
            });
        }
        config.push_str(extra_config);
        std::fs::write(d.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Self {
            child,
            port,
            dir,
            tls,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not listen on {port} in 20 s; its log:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn reference(&self, repo_tag: &str) -> Reference {
        format!("127.0.0.1:{}/{repo_tag}", self.port)
            .parse()
            .unwrap()
    }

    /// Where the registry keeps a blob's bytes (distribution's filesystem layout).
    fn blob_data(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn http_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// The repository's example bundle, plus a WebAssembly component under `tools/`.
fn example_bundle(root: &Path) -> PathBuf {
    let dir = root.join("bundle");
    copy_dir(&examples_dir(), &dir);
    std::fs::create_dir_all(dir.join("tools")).unwrap();
    std::fs::write(dir.join("tools/empty.wasm"), EMPTY_COMPONENT).unwrap();
    dir
}

/// Every file under `dir` by relative path (`.git` left out, as a push leaves it).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                if entry.file_name() != ".git" {
                    walk(root, &path, out);
                }
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn anonymous_client() -> Client {
    Client::new(RegistryOptions::default()).unwrap()
}

fn tls_client(registry: &Registry, credentials: Credentials) -> Client {
    Client::new(RegistryOptions {
        credentials,
        ca_file: Some(registry.tls.as_ref().unwrap().ca_pem.clone()),
        insecure: false,
    })
    .unwrap()
}

fn basic(user: &str, password: &str) -> Credentials {
    Credentials::Basic {
        username: user.to_string(),
        password: password.to_string(),
    }
}

#[tokio::test]
async fn push_then_pull_by_tag_and_by_digest() {
    let Some(bin) = require_registry("push_then_pull_by_tag_and_by_digest") else {
        return;
    };
    let registry = Registry::anonymous(&bin);
    let work = tempfile::tempdir().unwrap();
    let bundle = example_bundle(work.path());
    // A loopback registry is reached over plain HTTP without --insecure (HTTPS first).
    let client = anonymous_client();
    let reference = registry.reference("envs/minicalc:0.1.0");

    let pushed = push(&client, &bundle, &reference).await.unwrap();
    let expected = files(&bundle);
    assert_eq!(pushed.files, expected.len());
    assert_eq!(pushed.existing, 0);
    assert_eq!(pushed.pin.registry, format!("127.0.0.1:{}", registry.port));
    assert_eq!(pushed.pin.repository, "envs/minicalc");

    // By tag, into an empty cache: the same files, byte for byte, and the same pin.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let pulled = pull(&client, &reference, &cache).await.unwrap();
    assert_eq!(pulled.pin, pushed.pin);
    assert!(!pulled.offline);
    assert_eq!(pulled.fetched, pushed.uploaded);
    assert_eq!(files(&pulled.dir), expected);
    assert_eq!(pulled.dir, cache.bundle_dir(&pushed.pin.digest));
    assert!(cache.blob_path(&pushed.pin.digest).is_file());

    // The artifact's layout: what other OCI tools see.
    let manifest: ImageManifest =
        serde_json::from_slice(&std::fs::read(cache.blob_path(&pushed.pin.digest)).unwrap())
            .unwrap();
    assert_eq!(manifest.media_type.as_deref(), Some(media::IMAGE_MANIFEST));
    assert_eq!(
        manifest.artifact_type.as_deref(),
        Some(media::ARTIFACT_TYPE)
    );
    assert_eq!(manifest.config.media_type, media::CONFIG);
    assert_eq!(
        manifest.config.digest,
        Digest::of(&expected["plinth-env.toml"])
    );
    let layer = |title: &str| {
        manifest
            .layers
            .iter()
            .find(|l| l.annotations.get(media::TITLE).map(String::as_str) == Some(title))
            .unwrap_or_else(|| panic!("no layer titled {title}"))
    };
    assert_eq!(layer("tools/empty.wasm").media_type, "application/wasm");
    assert_eq!(layer("tasks.jsonl").media_type, "application/jsonl");
    assert_eq!(layer("templates/system.j2").media_type, "text/plain");
    assert_eq!(
        layer("tasks.jsonl").digest,
        Digest::of(&expected["tasks.jsonl"])
    );
    assert_eq!(manifest.layers.len(), expected.len() - 1);

    // By digest, into the same cache: no request at all.
    let by_digest = pushed.pin.reference();
    let again = pull(&client, &by_digest, &cache).await.unwrap();
    assert!(again.offline);
    assert_eq!(again.dir, pulled.dir);
    // By digest into a fresh cache, with the registry asked explicitly over plain HTTP.
    let insecure = Client::new(RegistryOptions {
        insecure: true,
        ..Default::default()
    })
    .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let fresh = pull(&insecure, &by_digest, &Cache::new(other_dir.path()))
        .await
        .unwrap();
    assert!(!fresh.offline);
    assert_eq!(fresh.pin, pushed.pin);
    assert_eq!(files(&fresh.dir), expected);

    // The same files push to the same digest, and every blob is skipped.
    let repushed = push(&client, &bundle, &reference).await.unwrap();
    assert_eq!(repushed.pin, pushed.pin);
    assert_eq!(repushed.uploaded, 0);
    assert_eq!(repushed.existing, pushed.uploaded);

    // A changed bundle under the same tag: the tag now resolves to the new digest.
    std::fs::write(bundle.join("templates/system.j2"), "changed\n").unwrap();
    let changed = push(&client, &bundle, &reference).await.unwrap();
    assert_ne!(changed.pin.digest, pushed.pin.digest);
    assert_eq!(changed.uploaded, 1);
    let repulled = pull(&client, &reference, &cache).await.unwrap();
    assert_eq!(repulled.pin, changed.pin);
    assert_eq!(repulled.fetched, 1, "only the changed file is fetched");
    assert_eq!(
        std::fs::read(repulled.dir.join("templates/system.j2")).unwrap(),
        b"changed\n"
    );
    // The old pin still loads, intact.
    cache.load(&pushed.pin.digest).unwrap();
}

/// PUTs a manifest and its blobs straight to the registry (what another tool pushed).
async fn put_raw(
    registry: &Registry,
    repo: &str,
    tag: &str,
    manifest: &ImageManifest,
    blobs: &[&[u8]],
) {
    let http = reqwest::Client::new();
    let base = registry.http_base();
    for blob in blobs {
        let digest = Digest::of(blob);
        let response = http
            .post(format!("{base}/v2/{repo}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let mut url = reqwest::Url::parse(&base).unwrap().join(&location).unwrap();
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let response = http.put(url).body(blob.to_vec()).send().await.unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let response = http
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", media::IMAGE_MANIFEST)
        .body(serde_json::to_vec(manifest).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

fn descriptor(media_type: &str, bytes: &[u8], title: Option<&str>) -> plinth_oci::Descriptor {
    plinth_oci::Descriptor {
        media_type: media_type.to_string(),
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        annotations: title
            .map(|t| [(media::TITLE.to_string(), t.to_string())].into())
            .unwrap_or_default(),
    }
}

#[tokio::test]
async fn each_failure_is_a_typed_error_naming_the_reference() {
    let Some(bin) = require_registry("each_failure_is_a_typed_error_naming_the_reference") else {
        return;
    };
    let registry = Registry::anonymous(&bin);
    let work = tempfile::tempdir().unwrap();
    let bundle = example_bundle(work.path());
    let client = anonymous_client();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let pushed = push(&client, &bundle, &registry.reference("envs/minicalc:v1"))
        .await
        .unwrap();

    // Unknown tag, and unknown repository.
    let missing = registry.reference("envs/minicalc:no-such-tag");
    let err = pull(&client, &missing, &cache).await.unwrap_err();
    assert!(
        matches!(&err, OciError::ManifestUnknown { code, .. } if code == "MANIFEST_UNKNOWN"),
        "{err}"
    );
    assert!(err.to_string().contains(&missing.to_string()), "{err}");
    let err = pull(&client, &registry.reference("envs/nothing:v1"), &cache)
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::ManifestUnknown { .. }), "{err}");

    // A container image (OCI image config, a tar layer) is not a bundle.
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let tar = b"not really a tar";
    let image = ImageManifest {
        schema_version: 2,
        media_type: Some(media::IMAGE_MANIFEST.to_string()),
        artifact_type: None,
        config: descriptor("application/vnd.oci.image.config.v1+json", config, None),
        layers: vec![descriptor(
            "application/vnd.oci.image.layer.v1.tar",
            tar,
            None,
        )],
        annotations: Default::default(),
    };
    put_raw(&registry, "envs/image", "v1", &image, &[config, tar]).await;
    let err = pull(&client, &registry.reference("envs/image:v1"), &cache)
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::WrongMediaType { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("application/vnd.plinth.environment.v1"),
        "{err}"
    );

    // A bundle whose wasm layer is not application/wasm.
    let toml = b"manifest_version = 1\n";
    let wasm_as_octets = ImageManifest::for_bundle(
        descriptor(media::CONFIG, toml, None),
        vec![descriptor(
            "application/octet-stream",
            EMPTY_COMPONENT,
            Some("t.wasm"),
        )],
    );
    put_raw(
        &registry,
        "envs/octets",
        "v1",
        &wasm_as_octets,
        &[toml, EMPTY_COMPONENT],
    )
    .await;
    let err = pull(&client, &registry.reference("envs/octets:v1"), &cache)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OciError::WrongMediaType { found, .. } if found == "application/octet-stream"),
        "{err}"
    );

    // A layer whose title leads out of the bundle: refused before anything is written.
    let escape = ImageManifest::for_bundle(
        descriptor(media::CONFIG, toml, None),
        vec![descriptor(
            "text/plain",
            b"pwned",
            Some("../../escaped.txt"),
        )],
    );
    put_raw(&registry, "envs/escape", "v1", &escape, &[toml, b"pwned"]).await;
    let err = pull(&client, &registry.reference("envs/escape:v1"), &cache)
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::MalformedManifest { .. }), "{err}");
    assert!(err.to_string().contains("../../escaped.txt"), "{err}");
    assert!(!cache_dir.path().join("escaped.txt").exists());

    // A blob the registry serves with other bytes (same size): a digest mismatch.
    let tasks = std::fs::read(bundle.join("tasks.jsonl")).unwrap();
    let data = registry.blob_data(&Digest::of(&tasks));
    let mut tampered = tasks.clone();
    tampered[0] ^= 0x20;
    std::fs::write(&data, &tampered).unwrap();
    let fresh_dir = tempfile::tempdir().unwrap();
    let err = pull(
        &client,
        &pushed.pin.reference(),
        &Cache::new(fresh_dir.path()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, OciError::DigestMismatch { what, .. } if what == "tasks.jsonl"),
        "{err}"
    );
    std::fs::write(&data, &tasks).unwrap();

    // A cached file changed after the pull: the next load refuses it; a pull restores it.
    let pulled = pull(&client, &pushed.pin.reference(), &cache)
        .await
        .unwrap();
    std::fs::write(pulled.dir.join("templates/system.j2"), "tampered").unwrap();
    let err = cache.load(&pushed.pin.digest).unwrap_err();
    assert!(
        matches!(&err, OciError::CacheCorrupt { what, .. } if what == "templates/system.j2"),
        "{err}"
    );
    let restored = pull(&client, &pushed.pin.reference(), &cache)
        .await
        .unwrap();
    assert!(!restored.offline);
    assert_eq!(
        std::fs::read(restored.dir.join("templates/system.j2")).unwrap(),
        std::fs::read(bundle.join("templates/system.j2")).unwrap()
    );
    std::fs::remove_file(restored.dir.join("tasks.jsonl")).unwrap();
    let err = cache.load(&pushed.pin.digest).unwrap_err();
    assert!(matches!(err, OciError::CacheFileMissing { .. }), "{err}");

    // Nothing listening: the registry is unreachable, named with its address.
    let down: Reference = format!("127.0.0.1:{}/envs/minicalc:v1", free_port())
        .parse()
        .unwrap();
    let err = pull(&client, &down, &cache).await.unwrap_err();
    assert!(matches!(err, OciError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(down.registry()), "{err}");

    // Bad input on the push side.
    let err = push(&client, &bundle, &pushed.pin.reference())
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::PushNeedsTag { .. }), "{err}");
    let err = push(
        &client,
        &bundle.join("templates"),
        &registry.reference("x:v1"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, OciError::NotABundle { .. }), "{err}");
    std::os::unix::fs::symlink("/etc/passwd", bundle.join("passwd")).unwrap();
    let err = push(&client, &bundle, &registry.reference("x:v1"))
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::BundleFile { .. }), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[tokio::test]
async fn basic_auth_over_tls_with_a_custom_ca() {
    let Some(bin) = require_registry("basic_auth_over_tls_with_a_custom_ca") else {
        return;
    };
    let registry = Registry::basic_auth_tls(&bin);
    let work = tempfile::tempdir().unwrap();
    let bundle = example_bundle(work.path());
    let reference = registry.reference("envs/minicalc:0.1.0");
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());

    // Without the CA the certificate is unknown (and no plain-HTTP registry answers).
    let err = push(&anonymous_client(), &bundle, &reference)
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::Tls { .. }), "{err}");
    // A CA file that holds no certificate.
    std::fs::write(work.path().join("not.pem"), "hello").unwrap();
    let err = Client::new(RegistryOptions {
        ca_file: Some(work.path().join("not.pem")),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, OciError::CaFile { .. }), "{err}");

    // With the CA: anonymous and wrong passwords are refused, each said so.
    let err = push(
        &tls_client(&registry, Credentials::Anonymous),
        &bundle,
        &reference,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            OciError::Unauthorized {
                had_credentials: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--username"), "{err}");
    let err = pull(
        &tls_client(&registry, basic(USER, "wrong")),
        &reference,
        &cache,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            OciError::Unauthorized {
                had_credentials: true,
                ..
            }
        ),
        "{err}"
    );

    // The right credentials push and pull.
    let client = tls_client(&registry, basic(USER, PASSWORD));
    let pushed = push(&client, &bundle, &reference).await.unwrap();
    let pulled = pull(&client, &reference, &cache).await.unwrap();
    assert_eq!(pulled.pin, pushed.pin);
    assert_eq!(files(&pulled.dir), files(&bundle));

    // Credentials from docker's config.json (`docker login` writes base64 user:password).
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let config = work.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            reference.registry()
        ),
    )
    .unwrap();
    let credentials =
        Credentials::resolve_with(reference.registry(), None, |_| None, Some(&config)).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let by_config = pull(
        &tls_client(&registry, credentials),
        &pushed.pin.reference(),
        &Cache::new(other_dir.path()),
    )
    .await
    .unwrap();
    assert_eq!(by_config.pin, pushed.pin);
}

/// Push and pull times against the local registry (printed; run with `--nocapture`):
/// the example bundle, and the same with a 30 MB component (a componentize-py
/// component's size) in it. Cold: an empty registry / cache; warm: everything there.
#[tokio::test]
async fn push_and_pull_figures() {
    let Some(bin) = require_registry("push_and_pull_figures") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let small = example_bundle(work.path());
    let large = work.path().join("large");
    copy_dir(&small, &large);
    let mut bytes = EMPTY_COMPONENT.to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while bytes.len() < 30 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(large.join("tools/big.wasm"), &bytes).unwrap();

    let client = anonymous_client();
    for (name, bundle) in [
        ("example bundle", &small),
        ("with a 30 MB component", &large),
    ] {
        let registry = Registry::anonymous(&bin);
        let reference = registry.reference("envs/figures:v1");
        let size: usize = files(bundle).values().map(Vec::len).sum();
        let t = Instant::now();
        let pushed = push(&client, bundle, &reference).await.unwrap();
        let push_cold = t.elapsed();
        let t = Instant::now();
        let again = push(&client, bundle, &reference).await.unwrap();
        let push_warm = t.elapsed();
        assert_eq!(again.uploaded, 0);
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(cache_dir.path());
        let t = Instant::now();
        let cold = pull(&client, &reference, &cache).await.unwrap();
        let pull_cold = t.elapsed();
        assert_eq!(cold.fetched, pushed.uploaded);
        let t = Instant::now();
        let warm = pull(&client, &reference, &cache).await.unwrap();
        let pull_warm = t.elapsed();
        assert_eq!(warm.fetched, 0);
        let t = Instant::now();
        let offline = pull(&client, &pushed.pin.reference(), &cache)
            .await
            .unwrap();
        let load = t.elapsed();
        assert!(offline.offline);
        eprintln!(
            "FIGURES {name} ({} files, {:.1} MB): push cold {:.0} ms, warm {:.0} ms; pull cold {:.0} ms, warm (by tag) {:.0} ms; load by digest (re-hash only) {:.0} ms",
            pushed.files,
            size as f64 / 1e6,
            push_cold.as_secs_f64() * 1e3,
            push_warm.as_secs_f64() * 1e3,
            pull_cold.as_secs_f64() * 1e3,
            pull_warm.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e3,
        );
    }
}

const TOKEN_SERVICE: &str = "plinth-test-registry";
const TOKEN_ISSUER: &str = "plinth-test-issuer";

/// A token service as the distribution spec describes one: `GET /token?service=&scope=`
/// answers `{"token": JWT}`, an ES256 JWT whose `x5c` certificate the registry trusts.
/// Basic USER / PASSWORD get every action asked for; anonymous callers get `pull` only.
struct TokenServer {
    port: u16,
    cert_pem: PathBuf,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    fn start() -> Self {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["plinth-token".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_pem = dir.path().join("token.pem");
        std::fs::write(&cert_pem, cert.pem()).unwrap();
        let x5c = b64.encode(cert.der());
        let signer = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let good = format!("Basic {}", b64.encode(format!("{USER}:{PASSWORD}")));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = answer_token_request(&mut stream, &signer, &x5c, &good);
            }
        });
        Self {
            port,
            cert_pem,
            _dir: dir,
        }
    }
}

fn answer_token_request(
    stream: &mut std::net::TcpStream,
    signer: &aws_lc_rs::signature::EcdsaKeyPair,
    x5c: &str,
    good_authorization: &str,
) -> std::io::Result<()> {
    use base64::Engine as _;
    use std::io::{Read, Write};
    let url64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let target = request.split(' ').nth(1).unwrap_or("/");
    let url = reqwest::Url::parse(&format!("http://token{target}")).unwrap();
    let authorized = request.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == good_authorization
    });
    let has_credentials = request.to_ascii_lowercase().contains("\r\nauthorization:");
    let (status, body) = if has_credentials && !authorized {
        (
            "401 Unauthorized",
            r#"{"details":"bad credentials"}"#.to_string(),
        )
    } else {
        let access: Vec<serde_json::Value> = url
            .query_pairs()
            .filter(|(k, _)| k == "scope")
            .filter_map(|(_, scope)| {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                let actions: Vec<&str> = actions
                    .split(',')
                    .filter(|a| authorized || *a == "pull")
                    .collect();
                Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER, "sub": if authorized { USER } else { "" }, "aud": TOKEN_SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now - 10, "jti": format!("{now}-{}", access.len()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            url64.encode(header.to_string()),
            url64.encode(claims.to_string())
        );
        let signature = signer
            .sign(
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
            )
            .unwrap();
        let token = format!("{signing_input}.{}", url64.encode(signature.as_ref()));
        ("200 OK", serde_json::json!({"token": token}).to_string())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn bearer_tokens_from_the_registry_token_service() {
    let Some(bin) = require_registry("bearer_tokens_from_the_registry_token_service") else {
        return;
    };
    let tokens = TokenServer::start();
    let registry = Registry::token_auth(&bin, &tokens);
    let work = tempfile::tempdir().unwrap();
    let bundle = example_bundle(work.path());
    let reference = registry.reference("envs/minicalc:0.1.0");
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());

    // Anonymous tokens carry `pull` only: a push is refused.
    let err = push(&anonymous_client(), &bundle, &reference)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OciError::Unauthorized {
                had_credentials: false,
                ..
            }
        ),
        "{err}"
    );
    // Wrong credentials are refused by the token service itself.
    let wrong = Client::new(RegistryOptions {
        credentials: basic(USER, "wrong"),
        ..Default::default()
    })
    .unwrap();
    let err = push(&wrong, &bundle, &reference).await.unwrap_err();
    assert!(
        matches!(
            err,
            OciError::Unauthorized {
                had_credentials: true,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("token service"), "{err}");

    let client = Client::new(RegistryOptions {
        credentials: basic(USER, PASSWORD),
        ..Default::default()
    })
    .unwrap();
    let pushed = push(&client, &bundle, &reference).await.unwrap();
    // An anonymous pull is allowed (a public repository's token flow).
    let pulled = pull(&anonymous_client(), &reference, &cache).await.unwrap();
    assert_eq!(pulled.pin, pushed.pin);
    assert_eq!(files(&pulled.dir), files(&bundle));
}
