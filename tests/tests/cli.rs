//! The command-line surface: help, output formats, pipes, exit codes, options that must not
//! change the answer.

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tollgate_e2e::{Model, Running, Tollgate, is_lower_hex, signed_model, tollgate_bin};

const SIGNED_ROOT: &str = "sha256:c89693e5a1aca5809a4601244ee48065e2ac578a67823a65f72d8a3bd6a86973";

/// Subcommand names listed under "Commands:" in `tollgate <prefix> --help` (except `help`).
fn subcommands_of(prefix: &[String]) -> Vec<String> {
    let out = Tollgate::new(prefix).arg("--help").run();
    let help = out.ok();
    let mut names = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.trim_end() == "Commands:" {
            in_commands = true;
            continue;
        }
        if in_commands {
            if line.trim().is_empty() || !line.starts_with(' ') {
                break;
            }
            if let Some(name) = line.split_whitespace().next()
                && name != "help"
            {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Every command path (`hash`, `key`, `key inspect`, ...), depth first.
fn command_paths(prefix: &[String], out: &mut Vec<Vec<String>>) {
    for name in subcommands_of(prefix) {
        let mut path = prefix.to_vec();
        path.push(name);
        out.push(path.clone());
        command_paths(&path, out);
    }
}

#[test]
fn every_subcommand_help_has_examples() {
    let mut paths = Vec::new();
    command_paths(&[], &mut paths);
    let top: Vec<&str> = paths
        .iter()
        .filter(|p| p.len() == 1)
        .map(|p| p[0].as_str())
        .collect();
    for expected in ["hash", "inspect"] {
        assert!(
            top.contains(&expected),
            "{expected} missing from --help: {top:?}"
        );
    }
    let mut missing = Vec::new();
    for path in &paths {
        let name = path.join(" ");
        let long = Tollgate::new(path).arg("--help").run();
        let via_help = Tollgate::new(["help"]).args(path).run();
        assert_eq!(long.ok(), via_help.ok(), "`tollgate help {name}`");
        assert!(
            long.ok().contains(&format!("tollgate {name}")),
            "{}",
            long.stdout
        );
        if !long.ok().contains("Examples") {
            missing.push(name);
        }
        // -h (short help) works too.
        Tollgate::new(path).arg("-h").run().ok();
    }
    assert!(
        missing.is_empty(),
        "`tollgate <command> --help` has no Examples section for: {missing:?}"
    );
}

#[test]
fn top_level_help_version_and_usage_errors() {
    let help = Tollgate::new(["--help"]).run();
    assert!(help.ok().contains("Exit codes"), "{}", help.stdout);
    let version = Tollgate::new(["--version"]).run();
    assert!(version.ok().starts_with("tollgate "), "{}", version.stdout);
    // No subcommand, an unknown one, an unknown flag, a missing PATH: usage errors (2).
    Tollgate::new(Vec::<&str>::new())
        .run()
        .assert_input_error(&["Usage"]);
    Tollgate::new(["frobnicate"])
        .run()
        .assert_input_error(&["frobnicate"]);
    Tollgate::hash(signed_model())
        .arg("--no-such-flag")
        .run()
        .assert_input_error(&["--no-such-flag"]);
    Tollgate::new(["hash"]).run().assert_input_error(&["PATH"]);
    Tollgate::hash(signed_model())
        .args(["--output", "yaml"])
        .run()
        .assert_input_error(&["yaml"]);
}

fn check_json_manifest(v: &Value) {
    let root = v["root"].as_str().expect("root is a string");
    assert!(
        root.strip_prefix("sha256:")
            .is_some_and(|h| is_lower_hex(h, 64)),
        "root {root}"
    );
    assert!(v["model_name"].is_string(), "{v}");
    assert!(v["serialization"]["method"].is_string(), "{v}");
    for r in v["resources"].as_array().expect("resources array") {
        assert!(r["name"].is_string(), "{r}");
        assert!(r["algorithm"].is_string(), "{r}");
        let d = r["digest"].as_str().expect("digest string");
        assert!(is_lower_hex(d, 64) || is_lower_hex(d, 128), "{r}");
    }
}

#[test]
fn json_output_is_valid_and_matches_text() {
    for opts in [
        vec![],
        vec!["--shards"],
        vec!["--shard-size", "64"],
        vec!["-a", "blake2b"],
        vec!["-a", "blake3"],
    ] {
        let json = Tollgate::hash(signed_model())
            .args(&opts)
            .args(["--output", "json"])
            .run()
            .json();
        check_json_manifest(&json);
        assert_eq!(json["model_name"], "model");
        // Text output: root, then `<alg>:<hex>  <name>` per resource, same content.
        let text = Tollgate::hash(signed_model()).args(&opts).run();
        let mut lines = text.ok().lines();
        assert_eq!(lines.next(), json["root"].as_str(), "{opts:?}");
        let resources = json["resources"].as_array().unwrap();
        let rest: Vec<&str> = lines.collect();
        assert_eq!(rest.len(), resources.len(), "{opts:?}");
        for (line, r) in rest.iter().zip(resources) {
            let hash_type = json["serialization"]["hash_type"].as_str().unwrap();
            let expected = format!(
                "{hash_type}:{}  {}",
                r["digest"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            );
            assert_eq!(*line, expected, "{opts:?}");
        }
    }
    // `--output text` is the default.
    let explicit = Tollgate::hash(signed_model())
        .args(["--output", "text"])
        .run();
    let default = Tollgate::hash(signed_model()).run();
    assert_eq!(explicit.ok(), default.ok());
}

#[test]
fn text_first_line_is_the_root() {
    let out = Tollgate::hash(signed_model()).run();
    let first = out.first_line();
    let hex = first.strip_prefix("sha256:").unwrap_or("");
    assert!(
        is_lower_hex(hex, 64),
        "first line {first:?} is not ^sha256:[0-9a-f]{{64}}$"
    );
    assert_eq!(first, SIGNED_ROOT);
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr on success: {}",
        out.stderr
    );
}

/// A model whose text output is far bigger than a pipe buffer (64 KiB): 4000 shards.
fn big_output_model() -> Model {
    let m = Model::new();
    m.random_file("w.bin", 4000);
    m
}

#[test]
fn broken_pipe_is_not_an_error() {
    // `tollgate hash m | head -1` in a shell, with pipefail so tollgate's status counts.
    let m = big_output_model();
    let script = format!(
        "set -o pipefail; '{}' hash '{}' --shard-size 1 | head -1",
        tollgate_bin().display(),
        m.path().display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}, stderr: {stderr}",
        out.status
    );
    assert!(
        stderr.is_empty(),
        "a closed pipe must not print an error: {stderr}"
    );
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.starts_with("sha256:"), "{stdout}");
}

#[test]
fn stdout_closed_early_is_not_an_error() {
    let m = big_output_model();
    for opts in [
        vec!["--shard-size", "1"],
        vec!["--shard-size", "1", "--output", "json"],
    ] {
        let (mut cmd, guard) = Tollgate::hash(m.path()).args(&opts).command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        // Read the first bytes, then close our end while tollgate is still writing.
        let mut child = cmd.spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let running = Running::adopt(child, "tollgate hash (stdout closed)", guard);
        let mut first = [0u8; 7];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let run = running.wait();
        run.assert_code(0);
        assert!(run.stderr.is_empty(), "{opts:?}: {}", run.stderr);
        assert!(
            first.starts_with(b"sha256:") || first.starts_with(b"{"),
            "{first:?}"
        );
    }
}

#[test]
fn thread_count_does_not_change_the_answer() {
    let m = Model::new();
    for i in 0..12 {
        m.random_file(format!("f{i}.bin"), 1000 * i + 3);
    }
    m.random_file("big.bin", (3 << 20) + 1);
    for opts in [
        vec!["-a", "sha256"],
        vec!["-a", "sha256", "--shard-size", "100000"],
        vec!["-a", "blake3"],
        vec!["-a", "blake2b", "--shard-size", "1MiB"],
    ] {
        let default = Tollgate::hash(m.path()).args(&opts).run();
        for threads in ["1", "2", "7"] {
            let t = Tollgate::hash(m.path())
                .args(&opts)
                .args(["--threads", threads])
                .run();
            assert_eq!(t.ok(), default.ok(), "{opts:?} --threads {threads}");
        }
        // RAYON_NUM_THREADS must not matter either.
        let env = Tollgate::hash(m.path())
            .args(&opts)
            .env("RAYON_NUM_THREADS", "1")
            .run();
        assert_eq!(env.ok(), default.ok(), "{opts:?} RAYON_NUM_THREADS=1");
    }
}

#[test]
fn shard_size_spellings_agree() {
    let a = Tollgate::hash(signed_model()).arg("--shards").run();
    for spelling in ["1G", "1GB", "1000000000", "1000M"] {
        let b = Tollgate::hash(signed_model())
            .args(["--shard-size", spelling])
            .run();
        assert_eq!(a.ok(), b.ok(), "--shard-size {spelling}");
    }
    let kib = Tollgate::hash(signed_model())
        .args(["--shard-size", "1KiB"])
        .run();
    let bytes = Tollgate::hash(signed_model())
        .args(["--shard-size", "1024"])
        .run();
    assert_eq!(kib.ok(), bytes.ok());
    // `--no-shards` is the default.
    let files = Tollgate::hash(signed_model()).arg("--no-shards").run();
    assert_eq!(files.first_line(), SIGNED_ROOT);
}

#[test]
fn shard_empty_files_adds_a_zero_length_shard() {
    let plain = Tollgate::hash(signed_model())
        .args(["--shards", "--output", "json"])
        .run()
        .json();
    let with = Tollgate::hash(signed_model())
        .args(["--shards", "--shard-empty-files", "--output", "json"])
        .run()
        .json();
    let names = |v: &Value| -> Vec<String> {
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!names(&plain).iter().any(|n| n.starts_with("empty.txt")));
    assert!(names(&with).contains(&"empty.txt:0:0".to_owned()), "{with}");
    assert_ne!(plain["root"], with["root"]);
}

/// The model may be named by a relative path or `.`; its name is the directory's own.
#[test]
fn relative_paths_and_dot() {
    let model = signed_model();
    let dot = Tollgate::hash(".")
        .args(["--output", "json"])
        .current_dir(&model)
        .run()
        .json();
    assert_eq!(dot["root"], SIGNED_ROOT);
    assert_eq!(dot["model_name"], "model");
    let rel = Tollgate::hash("model")
        .current_dir(model.parent().unwrap())
        .run();
    assert_eq!(rel.first_line(), SIGNED_ROOT);
    let trailing = Tollgate::hash(format!("{}/", model.display())).run();
    assert_eq!(trailing.first_line(), SIGNED_ROOT);
}

/// Ignoring a file by a relative or an absolute path inside the model is the same, and the
/// ignore is recorded in the manifest.
#[test]
fn ignore_relative_and_absolute_agree() {
    let model = signed_model();
    let rel = Tollgate::hash(&model)
        .args(["--ignore", "LICENSE", "--output", "json"])
        .run()
        .json();
    let abs = Tollgate::hash(&model)
        .args(["--ignore"])
        .arg(model.join("LICENSE"))
        .args(["--output", "json"])
        .run()
        .json();
    assert_eq!(rel, abs);
    assert_ne!(rel["root"], SIGNED_ROOT);
    let ignores = rel["serialization"]["ignore_paths"].as_array().unwrap();
    assert!(ignores.iter().any(|p| p == "LICENSE"), "{rel}");
}

#[test]
fn no_progress_bar_when_not_a_terminal() {
    let m = Model::new();
    m.random_file("w.bin", 1 << 20);
    let out = Tollgate::hash(m.path())
        .timeout(Duration::from_secs(60))
        .run();
    out.ok();
    assert!(
        out.stderr.is_empty(),
        "stderr should be empty: {}",
        out.stderr
    );
}

/// An absolute `--ignore` path spelled through a symlink to the model (as `$PWD` is inside a
/// symlinked directory, or a Hugging Face cache `snapshots/<rev>` link) is inside the model.
#[test]
fn absolute_ignore_through_symlinked_model_path() {
    let m = Model::new();
    m.random_file("keep.bin", 10)
        .random_file("logs/run.txt", 10);
    let link = m.outside().join("link-to-model");
    std::os::unix::fs::symlink(m.path(), &link).unwrap();
    let direct = Tollgate::hash(m.path())
        .args(["--ignore", "logs", "--output", "json"])
        .run()
        .json();
    let through_link = Tollgate::hash(&link)
        .arg("--ignore")
        .arg(link.join("logs"))
        .args(["--output", "json"])
        .run()
        .json();
    assert_eq!(through_link["root"], direct["root"]);
}
