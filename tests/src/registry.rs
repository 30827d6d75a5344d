//! A real CNCF distribution 2.8 registry (Debian package `docker-registry`) for end-to-end
//! tests: configured in a temporary directory, listening on 127.0.0.1 with a random free port,
//! killed by pid when dropped (also when the test panics). A missing docker-registry fails the
//! test; `scripts/install-registry` installs it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// docker-registry as installed by scripts/install-registry (or `$TOLLGATE_DOCKER_REGISTRY`).
pub fn registry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TOLLGATE_DOCKER_REGISTRY") {
        return p.into();
    }
    for p in ["/usr/bin/docker-registry", "/usr/local/bin/docker-registry"] {
        if Path::new(p).is_file() {
            return p.into();
        }
    }
    panic!("docker-registry is not installed: run scripts/install-registry");
}

/// A running distribution 2.8 registry.
pub struct Registry {
    child: Child,
    host: String,
    storage: PathBuf,
    dir: tempfile::TempDir,
}

impl Registry {
    /// An anonymous registry with deletes enabled.
    pub fn start() -> Self {
        Self::start_with("", 200)
    }

    /// A registry whose `config.yml` also has `extra` (top-level YAML sections such as `auth:`;
    /// use [`Registry::dir`]-relative paths via `{dir}`, which is replaced by the temporary
    /// directory). Ready when `GET /v2/` answers `ready_status` (401 for registries with auth).
    pub fn start_with(extra: &str, ready_status: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).unwrap();
        // A free port: bind to 0, read it, release it (a small race with other processes).
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let extra = extra.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
                 delete:\n    enabled: true\nhttp:\n  addr: {host}\n{extra}",
                storage.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(registry_bin())
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start docker-registry");
        let mut registry = Self {
            child,
            host,
            storage,
            dir,
        };
        registry.wait_ready(ready_status);
        registry
    }

    /// Waits (at most 20 s) until `GET /v2/` answers `status`.
    fn wait_ready(&mut self, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let expected = format!(" {status}");
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self.dir.path().join("registry.log"));
                panic!("docker-registry exited with {status}: {log:?}");
            }
            if let Ok(mut s) = TcpStream::connect(&self.host) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
                let mut head = [0u8; 12];
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_exact(&mut head).is_ok()
                    && head.ends_with(expected.as_bytes())
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not answer GET /v2/ with {status} on {} within 20 s",
            self.host
        );
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `127.0.0.1:PORT/{rest}`: a reference in this registry.
    pub fn reference(&self, rest: &str) -> String {
        format!("{}/{rest}", self.host)
    }

    /// The registry's storage root directory.
    pub fn storage(&self) -> &Path {
        &self.storage
    }

    /// The temporary directory holding the config, the log and the storage.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The data file of blob `sha256:<hex>` (give the hex) in the storage directory.
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
