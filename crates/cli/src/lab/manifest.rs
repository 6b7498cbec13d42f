//! Manifests as `kubectl apply -f` reads them: files, directories (their *.yaml, *.yml and
//! *.json, in name order) or `-` for stdin; multi-document YAML; `kind: List` expanded.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;
use serde_json::Value;

/// One object and where it came from, for messages.
pub struct Object {
    /// `web.yaml (document 2)`.
    pub source: String,
    pub value: Value,
}

// === impl Object ===

impl Object {
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"].as_str()
    }
}

/// Every object of every source, in order.
pub fn read_all(sources: &[PathBuf]) -> anyhow::Result<Vec<Object>> {
    let mut out = Vec::new();
    for source in sources {
        if source.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading manifests from stdin")?;
            out.extend(parse("stdin", &text)?);
        } else {
            for file in files(source)? {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                out.extend(parse(&file.display().to_string(), &text)?);
            }
        }
    }
    if out.is_empty() {
        bail!("no objects passed to apply");
    }
    Ok(out)
}

fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("the path {:?} does not exist", path.display().to_string()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The objects in one text (YAML or JSON, which is YAML too).
pub fn parse(name: &str, text: &str) -> anyhow::Result<Vec<Object>> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let source = format!("{name} (document {})", i + 1);
        let value = Value::deserialize(doc).with_context(|| format!("{source}: invalid YAML"))?;
        match value {
            Value::Null => continue,
            Value::Object(_) if value["kind"] == "List" => {
                let items = value["items"].as_array().cloned().unwrap_or_default();
                for (j, item) in items.into_iter().enumerate() {
                    out.push(checked(format!("{source} items[{j}]"), item)?);
                }
            }
            other => out.push(checked(source, other)?),
        }
    }
    Ok(out)
}

fn checked(source: String, value: Value) -> anyhow::Result<Object> {
    if !value.is_object() {
        bail!("{source}: an object must be a mapping");
    }
    let obj = Object { source, value };
    for (field, v) in [
        ("apiVersion", obj.api_version()),
        ("kind", obj.kind()),
        ("metadata.name", obj.name()),
    ] {
        if v.is_empty() {
            return Err(anyhow!("{}: {field}: Required value", obj.source));
        }
    }
    Ok(obj)
}
