//! Helpers for the end-to-end tests: the built `tollgate` binary, generated test models, and
//! the real model_signing 1.1.1 (Python) as the reference implementation.
//!
//! - [`tollgate_bin`] builds the binary once per test process and returns its path.
//! - [`Tollgate`] runs it (optionally as user `nobody`) with a timeout and returns a [`Run`]:
//!   exit code, stdout, stderr. A child that outlives its test is killed, never left running.
//! - [`Model`] builds a model directory in a temporary directory.
//! - [`ModelSigning`] runs `tests/py/ms_manifest.py` with `$TOLLGATE_MODEL_SIGNING_PYTHON` and
//!   fails the test loudly when that interpreter is missing (`scripts/test` installs it).
//! - [`registry::Registry`] runs a real CNCF distribution registry on a random loopback port.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod registry;

/// How long any single child process may run before the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        fs::canonicalize(&dir).unwrap_or(dir)
    })
}

/// A path under `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    workspace_root().join("testdata").join(rel)
}

/// The bundled model that model_signing 1.1.1 signed (`testdata/model-signing/model`).
pub fn signed_model() -> PathBuf {
    testdata("model-signing/model")
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root) or
/// `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// The `tollgate` binary, built (`cargo build -p tollgate --bin tollgate`) once per test
/// process so it is never stale.
pub fn tollgate_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(&cargo)
            .args(["build", "--quiet", "-p", "tollgate", "--bin", "tollgate"])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cargo:?} build: {e}"));
        assert!(
            out.status.success(),
            "cargo build -p tollgate failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = target_dir().join("debug").join("tollgate");
        assert!(
            bin.is_file(),
            "cargo build succeeded but {} does not exist",
            bin.display()
        );
        bin
    })
}

/// A finished process: exit code, stdout and stderr (lossily decoded).
#[derive(Clone, Debug)]
pub struct Run {
    /// Exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
    /// The command line, for messages.
    pub command: String,
}

impl Run {
    fn new(status: ExitStatus, stdout: Vec<u8>, stderr: Vec<u8>, command: String) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            code: status.code(),
            signal: status.signal(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            command,
        }
    }

    fn describe(&self) -> String {
        format!(
            "command: {}\nexit code: {:?} (signal {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.signal, self.stdout, self.stderr
        )
    }

    /// Asserts nothing panicked (a panic is a bug whatever the exit code).
    pub fn assert_no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "tollgate panicked\n{}",
            self.describe()
        );
        self
    }

    /// Asserts the exit code.
    pub fn assert_code(&self, code: i32) -> &Self {
        self.assert_no_panic();
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status\n{}",
            self.describe()
        );
        self
    }

    /// Asserts success (exit 0) and returns stdout.
    pub fn ok(&self) -> &str {
        self.assert_code(0);
        &self.stdout
    }

    /// Asserts an input or usage error: exit 2, nothing on stdout, no panic, and stderr
    /// mentioning every one of `mentions`.
    pub fn assert_input_error(&self, mentions: &[&str]) -> &Self {
        self.assert_code(2);
        assert!(
            self.stdout.is_empty(),
            "an error must print nothing on stdout\n{}",
            self.describe()
        );
        assert!(
            !self.stderr.trim().is_empty(),
            "an error must say why on stderr\n{}",
            self.describe()
        );
        self.assert_stderr_mentions(mentions)
    }

    /// Asserts stderr contains every one of `mentions`.
    pub fn assert_stderr_mentions(&self, mentions: &[&str]) -> &Self {
        for m in mentions {
            assert!(
                self.stderr.contains(m),
                "stderr does not mention {m:?}\n{}",
                self.describe()
            );
        }
        self
    }

    /// stdout parsed as JSON (after asserting exit 0).
    pub fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(out)
            .unwrap_or_else(|e| panic!("stdout is not valid JSON: {e}\n{}", self.describe()))
    }

    /// The first line of stdout (after asserting exit 0): the root digest for `hash`.
    pub fn first_line(&self) -> &str {
        self.ok().lines().next().unwrap_or("")
    }
}

/// Environment variables that carry key passwords or token settings; [`Tollgate`] passes them
/// to the binary only when the test sets them with [`Tollgate::env`].
pub const SECRET_VARS: [&str; 4] = [
    "TOLLGATE_PASSWORD",
    "COSIGN_PASSWORD",
    "TOLLGATE_PKCS11_PIN",
    "TOLLGATE_PKCS11_MODULE",
];

/// cosign 2.5.0 as installed by `scripts/install-cosign` (or `$TOLLGATE_COSIGN`); fails the
/// test if it is missing.
pub fn cosign_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TOLLGATE_COSIGN") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("TOLLGATE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache"));
    let bin = cache.join("peers/root/usr/bin/cosign");
    assert!(
        bin.is_file(),
        "cosign 2.5.0 is not installed at {}: run scripts/install-cosign (scripts/test does)",
        bin.display()
    );
    bin
}

/// oras 1.2 as installed by `scripts/install-oras` (or `$TOLLGATE_ORAS`); fails the test if it
/// is missing.
pub fn oras_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TOLLGATE_ORAS") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("TOLLGATE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache"));
    let bin = cache.join("peers/root/usr/bin/oras");
    assert!(
        bin.is_file(),
        "oras 1.2 is not installed at {}: run scripts/install-oras (scripts/test does)",
        bin.display()
    );
    bin
}

/// Runs oras in `dir` (it refuses absolute file paths, and keeps its state under `$HOME`, set
/// to `dir`), fails the test if it fails, and returns its stdout.
pub fn run_oras(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(oras_bin())
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .expect("cannot run oras");
    assert!(
        out.status.success(),
        "oras {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A `tollgate` command line.
#[derive(Clone, Debug)]
pub struct Tollgate {
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    as_nobody: bool,
    timeout: Duration,
}

impl Tollgate {
    /// `tollgate ARGS...`.
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self {
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            cwd: None,
            env: Vec::new(),
            as_nobody: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// `tollgate hash PATH`.
    pub fn hash(path: impl AsRef<OsStr>) -> Self {
        Self::new([OsStr::new("hash"), path.as_ref()])
    }

    /// `tollgate inspect PATH`.
    pub fn inspect(path: impl AsRef<OsStr>) -> Self {
        Self::new([OsStr::new("inspect"), path.as_ref()])
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// An environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Run as user and group `nobody` (65534) through `setpriv` (util-linux), so file
    /// permissions apply even though the tests run as root. The binary is copied to a
    /// world-readable temporary directory first; the model's directories must be readable by
    /// others (see [`make_world_readable`]).
    pub fn as_nobody(mut self) -> Self {
        self.as_nobody = true;
        self
    }

    /// Fail the test if the process runs longer than this.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command, ready to spawn (stdin is null). Keep the returned guard alive while the
    /// process runs: it owns the copy of the binary used by [`Tollgate::as_nobody`].
    pub fn command(&self) -> (Command, Option<tempfile::TempDir>) {
        let bin = tollgate_bin();
        let (mut cmd, guard) = if self.as_nobody {
            let dir = tempfile::tempdir().expect("tempdir");
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
            let copy = dir.path().join("tollgate");
            fs::copy(bin, &copy).expect("copy tollgate binary");
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
            require_tool("setpriv", "util-linux");
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(copy);
            (cmd, Some(dir))
        } else {
            (Command::new(bin), None)
        };
        cmd.args(&self.args).stdin(Stdio::null());
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        // Secrets never leak in from the caller's environment: a test that wants one says so.
        for var in SECRET_VARS {
            if !self.env.iter().any(|(k, _)| k == var) {
                cmd.env_remove(var);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        (cmd, guard)
    }

    fn describe(&self) -> String {
        let mut s = String::from("tollgate");
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        if self.as_nobody {
            s.push_str("   (as nobody)");
        }
        s
    }

    /// Starts the process with stdout and stderr captured.
    pub fn spawn(&self) -> Running {
        let (mut cmd, guard) = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        Running::spawn(&mut cmd, self.describe(), self.timeout, guard)
    }

    /// Runs to completion (or fails the test after the timeout).
    pub fn run(&self) -> Run {
        self.spawn().wait()
    }
}

/// A started child process with captured output. Dropping it kills the process.
pub struct Running {
    child: Option<Child>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    command: String,
    deadline: Instant,
    _guard: Option<tempfile::TempDir>,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

impl Running {
    /// Spawns `cmd` (stdout and stderr must be piped or null).
    pub fn spawn(
        cmd: &mut Command,
        command: String,
        timeout: Duration,
        guard: Option<tempfile::TempDir>,
    ) -> Self {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Self {
            child: Some(child),
            stdout,
            stderr,
            command,
            deadline: Instant::now() + timeout,
            _guard: guard,
        }
    }

    /// Takes charge of a child spawned elsewhere: whatever of its stdout and stderr is still
    /// piped is captured; it is killed if not waited for. `guard` is what
    /// [`Tollgate::command`] returned with the command.
    pub fn adopt(mut child: Child, command: &str, guard: Option<tempfile::TempDir>) -> Self {
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Self {
            child: Some(child),
            stdout,
            stderr,
            command: command.to_owned(),
            deadline: Instant::now() + DEFAULT_TIMEOUT,
            _guard: guard,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process has exited (without reaping it for [`Running::wait`]'s sake: the
    /// status is remembered by `Child`).
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => true,
        }
    }

    /// Waits for the process, failing the test (after killing it) at the deadline.
    pub fn wait(mut self) -> Run {
        let mut child = self.child.take().expect("wait once");
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= self.deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("`{}` did not finish in time; killed it", self.command);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("waiting for `{}`: {e}", self.command),
            }
        };
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Run::new(status, stdout, stderr, self.command.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Fails the test unless `tool` is on PATH, naming the Debian package that provides it.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed (Debian package {package}); run scripts/test, which installs it via scripts/install-test-deps"
    );
}

/// Makes `dir` and everything under it readable (and directories traversable) by everyone, so
/// [`Tollgate::as_nobody`] can reach it. Its ancestors must already be traversable by others
/// (true of `/tmp`); the test fails otherwise rather than loosening system directories.
pub fn make_world_readable(dir: &Path) {
    fn walk(p: &Path) {
        let meta = fs::symlink_metadata(p).unwrap();
        if meta.file_type().is_symlink() {
            return;
        }
        let mode = meta.permissions().mode();
        let add = if meta.is_dir() { 0o555 } else { 0o444 };
        fs::set_permissions(p, fs::Permissions::from_mode(mode | add)).unwrap();
        if meta.is_dir() {
            for e in fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path());
            }
        }
    }
    walk(dir);
    for a in dir.ancestors().skip(1) {
        if let Ok(meta) = fs::metadata(a) {
            assert!(
                meta.permissions().mode() & 0o001 != 0,
                "{} is not traversable by other users, so a test running tollgate as nobody cannot reach {}; point TMPDIR at a directory like /tmp",
                a.display(),
                dir.display()
            );
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), different for each `seed`.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A model directory `<tempdir>/model` being built; removed on drop. The temporary directory
/// around it is [`Model::outside`], for things that must not be part of the model.
pub struct Model {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

impl Model {
    /// An empty model directory named `model`.
    pub fn new() -> Self {
        Self::named("model")
    }

    /// An empty model directory called `name`.
    pub fn named(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tollgate-e2e-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join(name);
        fs::create_dir(&root).expect("create model dir");
        Self { dir, root }
    }

    /// The model directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A path inside the model.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// The temporary directory holding the model (outside it).
    pub fn outside(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating parent directories).
    pub fn file(&self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>) -> &Self {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create parent dirs");
        }
        fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    /// A file of `len` deterministic pseudo-random bytes.
    pub fn random_file(&self, rel: impl AsRef<Path>, len: usize) -> &Self {
        let seed = rel.as_ref().to_string_lossy().len() as u64 * 31 + len as u64;
        self.file(rel, bytes(len, seed))
    }

    /// Creates a directory (and parents).
    pub fn dir(&self, rel: impl AsRef<Path>) -> &Self {
        fs::create_dir_all(self.join(rel)).expect("create dir");
        self
    }

    /// A symbolic link at `rel` pointing to `target` (taken literally).
    pub fn symlink(&self, rel: impl AsRef<Path>, target: impl AsRef<Path>) -> &Self {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create parent dirs");
        }
        std::os::unix::fs::symlink(target.as_ref(), &p)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", p.display()));
        self
    }
}

/// How a model is hashed, in terms both tollgate and model_signing understand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashSpec {
    /// `sha256`, `blake2b` or `blake3`.
    pub algorithm: &'static str,
    /// `None`: one digest per file; `Some(n)`: shards of `n` bytes.
    pub shard_size: Option<u64>,
    /// `--ignore` paths, relative to the model root.
    pub ignore: Vec<String>,
    /// Ignore the git paths at the root (the default).
    pub ignore_git_paths: bool,
    /// `--allow-symlinks` (links inside the model only, for tollgate).
    pub allow_symlinks: bool,
}

impl HashSpec {
    /// Whole files with `algorithm`.
    pub fn files(algorithm: &'static str) -> Self {
        Self {
            algorithm,
            shard_size: None,
            ignore: Vec::new(),
            ignore_git_paths: true,
            allow_symlinks: false,
        }
    }

    /// Shards of `shard_size` bytes with `algorithm`.
    pub fn shards(algorithm: &'static str, shard_size: u64) -> Self {
        Self {
            shard_size: Some(shard_size),
            ..Self::files(algorithm)
        }
    }

    /// Adds an ignored path.
    pub fn ignore(mut self, rel: &str) -> Self {
        self.ignore.push(rel.to_owned());
        self
    }

    /// Hashes the git paths too.
    pub fn no_ignore_git_paths(mut self) -> Self {
        self.ignore_git_paths = false;
        self
    }

    /// Follows symlinks.
    pub fn allow_symlinks(mut self) -> Self {
        self.allow_symlinks = true;
        self
    }

    /// The `tollgate hash` options for this spec.
    pub fn tollgate_args(&self) -> Vec<String> {
        let mut a = vec!["-a".to_owned(), self.algorithm.to_owned()];
        match self.shard_size {
            Some(n) => a.extend(["--shard-size".to_owned(), n.to_string()]),
            None => a.push("--no-shards".to_owned()),
        }
        for i in &self.ignore {
            a.extend(["--ignore".to_owned(), i.clone()]);
        }
        if !self.ignore_git_paths {
            a.push("--no-ignore-git-paths".to_owned());
        }
        if self.allow_symlinks {
            a.push("--allow-symlinks".to_owned());
        }
        a
    }

    /// `tollgate hash MODEL <options> --output json`.
    pub fn tollgate(&self, model: &Path) -> Tollgate {
        Tollgate::hash(model)
            .args(self.tollgate_args())
            .args(["--output", "json"])
    }

    fn ms_request(&self, model: &Path) -> Value {
        json!({
            "model": model,
            "algorithm": self.algorithm,
            "shard_size": self.shard_size,
            "ignore": self.ignore,
            "ignore_git_paths": self.ignore_git_paths,
            "allow_symlinks": self.allow_symlinks,
        })
    }
}

impl std::fmt::Display for HashSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.tollgate_args().join(" "))
    }
}

/// The real model_signing 1.1.1, through `tests/py/ms_manifest.py`.
pub struct ModelSigning;

impl ModelSigning {
    /// `$TOLLGATE_MODEL_SIGNING_PYTHON`; fails the test with instructions if unset or missing.
    pub fn python() -> PathBuf {
        const HOW: &str = "run scripts/test (installs model_signing 1.1.1 into .cache/peers/venv and sets TOLLGATE_MODEL_SIGNING_PYTHON)";
        let Some(p) = std::env::var_os("TOLLGATE_MODEL_SIGNING_PYTHON").filter(|p| !p.is_empty())
        else {
            panic!("TOLLGATE_MODEL_SIGNING_PYTHON is not set: {HOW}");
        };
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "TOLLGATE_MODEL_SIGNING_PYTHON={} does not exist: {HOW}",
            p.display()
        );
        p
    }

    /// The script's path.
    pub fn script() -> PathBuf {
        workspace_root().join("tests/py/ms_manifest.py")
    }

    /// model_signing's manifests of `model` for each spec. Each is `{"root", "model_name",
    /// "serialization", "resources": [{"name","digest","algorithm"}]}` or `{"error": "..."}` if
    /// model_signing raised.
    pub fn manifests(model: &Path, specs: &[HashSpec]) -> Vec<Value> {
        let requests: Vec<Value> = specs.iter().map(|s| s.ms_request(model)).collect();
        let out = Self::batch(&Value::Array(requests));
        let list = out
            .as_array()
            .expect("ms_manifest.py answered a list")
            .clone();
        assert_eq!(list.len(), specs.len(), "one answer per request");
        list
    }

    /// Sends a batch (a JSON list of requests, see `ms_manifest.py`) to the one
    /// `ms_manifest.py --serve` process this test process shares (importing model_signing
    /// takes about a second, too long to pay per test), and returns its answer.
    pub fn batch(requests: &Value) -> Value {
        static SERVER: OnceLock<Mutex<Server>> = OnceLock::new();
        let server = SERVER.get_or_init(|| Mutex::new(Server::start()));
        let mut server = server.lock().unwrap_or_else(PoisonError::into_inner);
        server.ask(requests)
    }
}

/// A running `ms_manifest.py --serve`. It lives as long as the test process: when that exits,
/// the server's stdin closes and it exits too.
struct Server {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    fn start() -> Self {
        let python = ModelSigning::python();
        let mut child = Command::new(&python)
            .arg(ModelSigning::script())
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let mut err_pipe = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            stdin,
            lines,
            stderr,
        }
    }

    fn ask(&mut self, requests: &Value) -> Value {
        let mut line = requests.to_string();
        line.push('\n');
        let sent = self
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush());
        let answer = match sent {
            Ok(()) => self.lines.recv_timeout(DEFAULT_TIMEOUT).ok(),
            Err(_) => None,
        };
        let Some(answer) = answer else {
            let _ = self.child.kill();
            let status = self.child.wait().ok();
            std::thread::sleep(Duration::from_millis(100));
            let stderr = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
            panic!(
                "model_signing (ms_manifest.py --serve) gave no answer (exit: {status:?}); its stderr:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        };
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("ms_manifest.py answered invalid JSON: {e}\n{answer}"))
    }
}

/// `(name, algorithm, digest)` of every resource in a manifest JSON (tollgate's `--output
/// json` or ms_manifest.py's), in listed order.
pub fn resources(manifest: &Value) -> Vec<(String, String, String)> {
    manifest["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no resources array in {manifest}"))
        .iter()
        .map(|r| {
            let s = |k: &str| {
                r[k].as_str()
                    .unwrap_or_else(|| panic!("resource field {k} missing in {r}"))
                    .to_owned()
            };
            (s("name"), s("algorithm"), s("digest"))
        })
        .collect()
}

/// A root digest as bare lowercase hex (tollgate prints `sha256:<hex>`).
pub fn bare_root(root: &str) -> &str {
    root.strip_prefix("sha256:").unwrap_or(root)
}

/// Whether `s` is exactly `n` lowercase hex digits.
pub fn is_lower_hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// skopeo 1.18 as installed by `scripts/install-skopeo` (or `$TOLLGATE_SKOPEO`): the wrapper
/// that runs Debian trixie's binary through trixie's loader (bookworm's skopeo has sigstore
/// patched out). Fails the test if it is missing.
pub fn skopeo_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TOLLGATE_SKOPEO") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("TOLLGATE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache"));
    let bin = cache.join("peers/skopeo-root/skopeo");
    assert!(
        bin.is_file(),
        "skopeo 1.18 is not installed at {}: run scripts/install-skopeo (scripts/test does)",
        bin.display()
    );
    bin
}

/// Runs skopeo with `args`, asserting it succeeds; returns stdout. `HOME` is a temporary
/// directory so no user configuration or credentials leak in.
pub fn skopeo(args: &[&str]) -> String {
    let run = skopeo_run(args);
    assert!(
        run.status.success(),
        "skopeo {args:?} failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// Runs skopeo with `args` and returns its output whatever the exit status.
pub fn skopeo_run(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(skopeo_bin())
        .args(args)
        .env("HOME", home.path())
        .env_remove("REGISTRY_AUTH_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run skopeo")
}
