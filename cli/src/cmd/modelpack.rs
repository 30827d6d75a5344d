//! Models as OCI artifacts in the CNCF ModelPack format (modelpack/model-spec `docs/spec.md`,
//! `docs/config.md`, `specs-go/v1`): which layer media type a file gets, the model config
//! blob, the artifact manifest, and reading a pulled manifest's layers back into safe file
//! names. Rationale and the exact formats: docs/model-artifacts.md.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use tollgate_registry::{Digest, MediaType};
use tollgate_verifier::oci::{Descriptor, ImageManifest};

/// `artifactType` of a ModelPack model manifest.
pub(crate) const ARTIFACT_TYPE: &str = "application/vnd.cncf.model.manifest.v1+json";
/// Media type of the ModelPack model config blob.
pub(crate) const CONFIG_TYPE: &str = "application/vnd.cncf.model.config.v1+json";
/// The OCI annotation naming a layer's file (what oras reads and writes).
pub(crate) const TITLE: &str = "org.opencontainers.image.title";
/// ModelPack's layer annotation for the file path.
pub(crate) const FILEPATH: &str = "org.cncf.model.filepath";
/// ModelPack: the layer's media type is a guess.
pub(crate) const UNTESTED: &str = "org.cncf.model.file.mediatype.untested";
/// Longest file name accepted from a manifest.
const MAX_NAME: usize = 4096;

/// ModelPack layer kinds (`application/vnd.cncf.model.<kind>.v1.raw`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Weight,
    WeightConfig,
    Doc,
    Code,
    Dataset,
}

impl Kind {
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Self::Weight => "application/vnd.cncf.model.weight.v1.raw",
            Self::WeightConfig => "application/vnd.cncf.model.weight.config.v1.raw",
            Self::Doc => "application/vnd.cncf.model.doc.v1.raw",
            Self::Code => "application/vnd.cncf.model.code.v1.raw",
            Self::Dataset => "application/vnd.cncf.model.dataset.v1.raw",
        }
    }
}

/// Extensions of weight files (a subset of modctl's `ModelFilePatterns`).
const WEIGHT_EXT: &[&str] = &[
    "safetensors",
    "gguf",
    "bin",
    "pt",
    "pth",
    "ckpt",
    "onnx",
    "h5",
    "keras",
    "tflite",
    "pb",
    "msgpack",
    "npy",
    "npz",
    "pkl",
    "pickle",
    "ggml",
    "model",
    "mlmodel",
    "engine",
    "trt",
    "llamafile",
];
/// Extensions of weight configuration files (modctl's `ConfigFilePatterns`, abridged).
const CONFIG_EXT: &[&str] = &[
    "json", "jsonl", "json5", "yaml", "yml", "toml", "ini", "cfg", "conf", "xml", "tiktoken",
    "jinja",
];
/// Weight-config names without a telling extension.
const CONFIG_NAMES: &[&str] = &[
    "tokenizer.model",
    "vocab.txt",
    "merges.txt",
    "added_tokens.txt",
    "spiece.model",
];
const DOC_EXT: &[&str] = &["md", "txt", "pdf", "rst", "html", "htm", "adoc"];
const DOC_PREFIXES: &[&str] = &["readme", "license", "licence", "notice", "copying"];
const CODE_EXT: &[&str] = &[
    "py", "ipynb", "sh", "bash", "c", "h", "cc", "cpp", "hpp", "cu", "cuh", "rs", "go", "js", "ts",
    "java", "lua", "jl", "r",
];
const DATASET_EXT: &[&str] = &["parquet", "arrow", "csv", "tsv"];

/// The ModelPack kind of a file, by name; `None` when no rule matches (such files are pushed
/// as weights with the `untested` annotation).
pub(crate) fn classify(name: &str) -> Option<Kind> {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let ext = base.rsplit_once('.').map_or("", |(_, e)| e);
    // `model-00001-of-00002.safetensors`, `pytorch_model.bin.1`, `model.gguf.part1of2`.
    let has_ext = |list: &[&str]| {
        list.contains(&ext)
            || list
                .iter()
                .any(|e| base.contains(&format!(".{e}.")) && !base.ends_with(".json"))
    };
    if CONFIG_NAMES.contains(&base.as_str()) || base.contains("tokenizer.model") {
        return Some(Kind::WeightConfig);
    }
    if DOC_PREFIXES.iter().any(|p| base.starts_with(p)) {
        return Some(Kind::Doc);
    }
    if CONFIG_EXT.contains(&ext) {
        return Some(Kind::WeightConfig);
    }
    if has_ext(WEIGHT_EXT) {
        return Some(Kind::Weight);
    }
    if CODE_EXT.contains(&ext) || base.starts_with("requirements") {
        return Some(Kind::Code);
    }
    if DOC_EXT.contains(&ext) {
        return Some(Kind::Doc);
    }
    if DATASET_EXT.contains(&ext) {
        return Some(Kind::Dataset);
    }
    None
}

/// One file of the model, hashed.
#[derive(Clone, Debug)]
pub(crate) struct Layer {
    pub(crate) name: String,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
}

/// The ModelPack config blob: `descriptor` (the model's name), `config` (the weight `format`
/// when every weight file shares one), `modelfs` (the layers' DiffIDs, which for raw layers
/// are their digests). No `createdAt`: pushing the same files gives the same digest.
pub(crate) fn config_blob(model_name: &str, layers: &[Layer]) -> Vec<u8> {
    let mut descriptor = serde_json::Map::new();
    if !model_name.is_empty() {
        descriptor.insert("name".into(), json!(model_name));
    }
    let formats: BTreeSet<&str> = layers
        .iter()
        .filter(|l| classify(&l.name) == Some(Kind::Weight))
        .filter_map(|l| l.name.rsplit_once('.').map(|(_, e)| e))
        .collect();
    let mut config = serde_json::Map::new();
    if let [format] = formats.iter().collect::<Vec<_>>()[..]
        && ["safetensors", "gguf", "onnx", "pt", "pth", "bin"].contains(format)
    {
        let format = if *format == "pth" { "pt" } else { format };
        config.insert("format".into(), json!(format));
    }
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let value = json!({
        "descriptor": descriptor,
        "config": config,
        "modelfs": {"type": "layers", "diffIds": diff_ids},
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// The artifact manifest: ModelPack `artifactType` and config, one raw layer per file with
/// the OCI title and ModelPack filepath annotations (both the relative path).
pub(crate) fn manifest(config: &[u8], layers: &[Layer]) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| {
            let kind = classify(&l.name);
            let mut annotations = BTreeMap::from([
                (FILEPATH.to_owned(), l.name.clone()),
                (TITLE.to_owned(), l.name.clone()),
            ]);
            if kind.is_none() {
                annotations.insert(UNTESTED.to_owned(), "true".to_owned());
            }
            json!({
                "mediaType": kind.unwrap_or(Kind::Weight).media_type(),
                "digest": l.digest.to_string(),
                "size": l.size,
                "annotations": annotations,
            })
        })
        .collect();
    let value = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": CONFIG_TYPE,
            "digest": Digest::sha256(config).to_string(),
            "size": config.len(),
        },
        "layers": layers,
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Checks a name from a manifest: relative, `/`-separated, no empty, `.` or `..` component, no
/// backslash, NUL or control character, at most 4096 bytes.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > MAX_NAME {
        return Err("longer than 4096 bytes");
    }
    if name.starts_with('/') {
        return Err("absolute");
    }
    if name.chars().any(|c| c.is_control() || c == '\\') {
        return Err("contains a control character or a backslash");
    }
    for part in name.split('/') {
        match part {
            "" => return Err("has an empty path component"),
            "." | ".." => return Err("has a . or .. component"),
            _ => {}
        }
    }
    Ok(())
}

/// The file name of every layer, checked: named by title (or ModelPack filepath), safe,
/// unique, raw (not a tar archive), and no name is a directory of another.
pub(crate) fn layer_names(manifest: &ImageManifest) -> anyhow::Result<Vec<(String, Descriptor)>> {
    let mut out = Vec::with_capacity(manifest.layers().len());
    let mut seen = BTreeSet::new();
    for (index, layer) in manifest.layers().iter().enumerate() {
        let a = layer.annotations();
        let name = match (a.get(TITLE), a.get(FILEPATH)) {
            (Some(t), Some(p)) if t != p => {
                anyhow::bail!("layers[{index}]: {TITLE} {t:?} and {FILEPATH} {p:?} disagree")
            }
            (Some(n), _) | (None, Some(n)) => n.clone(),
            (None, None) => anyhow::bail!(
                "layers[{index}] ({}) has no {TITLE} or {FILEPATH} annotation, so it has no file name",
                layer.digest()
            ),
        };
        if let Err(why) = check_name(&name) {
            let shown: String = name.chars().take(200).collect();
            anyhow::bail!("layers[{index}]: unsafe file name {shown:?}: {why}");
        }
        let mt = layer.media_type().as_str();
        if mt.starts_with("application/vnd.cncf.model.") && mt.contains(".tar") {
            anyhow::bail!(
                "layers[{index}] ({name}) is a {mt} archive; tollgate pulls one file per layer (unpack it with modctl)"
            );
        }
        if !seen.insert(name.clone()) {
            anyhow::bail!("layers[{index}]: file name {name:?} is used twice");
        }
        out.push((name, layer.clone()));
    }
    // "a" and "a/b" cannot both be files.
    for (index, (name, _)) in out.iter().enumerate() {
        let mut prefix = name.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            anyhow::ensure!(
                !seen.contains(parent),
                "layers[{index}]: {parent:?} is both a file and the directory of {name:?}"
            );
            prefix = parent;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        for (name, kind) in [
            ("model.safetensors", Some(Kind::Weight)),
            ("model-00001-of-00002.safetensors", Some(Kind::Weight)),
            ("pytorch_model.bin", Some(Kind::Weight)),
            ("pytorch_model.bin.1", Some(Kind::Weight)),
            ("model.gguf", Some(Kind::Weight)),
            ("config.json", Some(Kind::WeightConfig)),
            ("model.safetensors.index.json", Some(Kind::WeightConfig)),
            ("tokenizer.json", Some(Kind::WeightConfig)),
            ("tokenizer.model", Some(Kind::WeightConfig)),
            ("sub/vocab.txt", Some(Kind::WeightConfig)),
            ("README.md", Some(Kind::Doc)),
            ("LICENSE", Some(Kind::Doc)),
            ("notes.txt", Some(Kind::Doc)),
            ("modeling.py", Some(Kind::Code)),
            ("requirements.txt", Some(Kind::Code)),
            ("train.parquet", Some(Kind::Dataset)),
            ("blob", None),
        ] {
            assert_eq!(classify(name), kind, "{name}");
        }
    }

    fn manifest_with(titles: &[(&str, Option<&str>)]) -> ImageManifest {
        let layers: Vec<Value> = titles
            .iter()
            .enumerate()
            .map(|(i, (t, mt))| {
                json!({
                    "mediaType": mt.unwrap_or("application/octet-stream"),
                    "digest": Digest::sha256(&[i as u8]).to_string(),
                    "size": 1,
                    "annotations": {TITLE: t},
                })
            })
            .collect();
        let m = json!({
            "schemaVersion": 2,
            "mediaType": MediaType::OCI_MANIFEST,
            "config": {"mediaType": MediaType::OCI_EMPTY, "digest": Digest::sha256(b"{}").to_string(), "size": 2},
            "layers": layers,
        });
        ImageManifest::parse(&serde_json::to_vec(&m).unwrap(), None).unwrap()
    }

    #[test]
    fn unsafe_names_refused() {
        for bad in [
            "../x", "/etc/x", "a/../b", "a//b", "./a", "", "a/", "a\\b", "a\nb", "..",
        ] {
            assert!(
                layer_names(&manifest_with(&[(bad, None)])).is_err(),
                "{bad:?}"
            );
        }
        assert!(layer_names(&manifest_with(&[("a", None), ("a", None)])).is_err());
        assert!(layer_names(&manifest_with(&[("a", None), ("a/b", None)])).is_err());
        let tar = Some("application/vnd.cncf.model.weight.v1.tar");
        assert!(layer_names(&manifest_with(&[("w", tar)])).is_err());
        let ok = layer_names(&manifest_with(&[("a/b.bin", None), ("c.json", None)])).unwrap();
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn config_is_modelpack() {
        let layers = [
            Layer {
                name: "model.safetensors".into(),
                digest: Digest::sha256(b"w"),
                size: 1,
            },
            Layer {
                name: "config.json".into(),
                digest: Digest::sha256(b"c"),
                size: 1,
            },
        ];
        let v: Value = serde_json::from_slice(&config_blob("m", &layers)).unwrap();
        assert_eq!(v["descriptor"]["name"], "m");
        assert_eq!(v["config"]["format"], "safetensors");
        assert_eq!(v["modelfs"]["type"], "layers");
        assert_eq!(v["modelfs"]["diffIds"].as_array().unwrap().len(), 2);
        let m = ImageManifest::parse(&manifest(b"{}", &layers), None).unwrap();
        assert_eq!(m.artifact_type().unwrap().as_str(), ARTIFACT_TYPE);
        assert_eq!(m.layers()[0].annotations()[TITLE], "model.safetensors");
    }
}
