//! Generates src/generated.rs, the message table, from k8s-pb's prost attributes (tags, wire
//! types, nesting) and k8s-openapi's serde names (the exact JSON spelling), and fails when the
//! committed table is stale. Regenerate with `PODNET_REGENERATE=1 cargo nextest run -p
//! podnet-apiserver-proto --test generated_table`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const K8S_PB: &str = "k8s-pb-0.9.0";
const K8S_OPENAPI: &str = "k8s-openapi-0.29.0";
/// The Kubernetes version the lab serves (k8s-openapi's `latest` feature).
const OPENAPI_VERSION_DIR: &str = "src/v1_37";

#[test]
fn generated_table_is_fresh() {
    let pb = registry_source(K8S_PB);
    let openapi = registry_source(K8S_OPENAPI);
    let json_names = json_names(&openapi.join(OPENAPI_VERSION_DIR));
    let mut messages = BTreeMap::new();
    for file in rust_files(&pb.join("src")) {
        let module = module_path(&pb.join("src"), &file);
        let text = std::fs::read_to_string(&file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for item in ast.items {
            if let syn::Item::Struct(s) = item {
                let fields = struct_fields(&module, &s, &json_names);
                if let Some(fields) = fields {
                    let name = [module.as_slice(), &[s.ident.to_string()]]
                        .concat()
                        .join(".");
                    messages.insert(name, fields);
                }
            }
        }
    }
    mark_inline(&mut messages, &json_names);
    let rendered = render(&messages);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated.rs");
    if std::env::var_os("PODNET_REGENERATE").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "src/generated.rs is stale: run with PODNET_REGENERATE=1"
    );
}

fn registry_source(package: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    std::fs::read_dir(home.join("registry/src"))
        .unwrap()
        .map(|e| e.unwrap().path().join(package))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{package} is not in the cargo registry"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// `src/api/apps/v1/mod.rs` → `["api", "apps", "v1"]`.
fn module_path(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    if last != "mod.rs" && last != "lib.rs" {
        parts.push(last.trim_end_matches(".rs").to_string());
    }
    parts
}

/// Every JSON field name k8s-openapi knows, keyed by its spelling folded to lowercase
/// alphanumerics (how k8s-pb's snake_case identifiers match them), and the names of each
/// struct (keyed by its folded file name) to settle the few folded names spelled two ways.
#[derive(Default)]
struct JsonNames {
    all: BTreeMap<String, BTreeSet<String>>,
    by_struct: BTreeMap<String, BTreeSet<String>>,
}

fn json_names(dir: &Path) -> JsonNames {
    let mut names = JsonNames::default();
    for file in rust_files(dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        let stem = fold(&file.file_stem().unwrap().to_string_lossy());
        for line in text.lines() {
            let Some((lhs, _)) = line.split_once("=> Field::Key_") else {
                continue;
            };
            let name = lhs.trim().trim_matches('"').to_string();
            names
                .all
                .entry(fold(&name))
                .or_default()
                .insert(name.clone());
            names
                .by_struct
                .entry(stem.clone())
                .or_default()
                .insert(name);
        }
    }
    names
}

fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The JSON name of the k8s-pb field `ident` of struct `owner`: k8s-openapi's spelling when one
/// matches (that struct's own when several do), else lowerCamelCase (fields k8s-openapi does not
/// model, such as runtime.Unknown's).
fn json_name(owner: &str, ident: &str, json_names: &JsonNames) -> String {
    let candidates = json_names.all.get(&fold(ident));
    let own = json_names.by_struct.get(&fold(owner));
    let chosen = match candidates {
        Some(set) if set.len() == 1 => set.iter().next(),
        Some(set) => set.iter().find(|n| own.is_some_and(|own| own.contains(*n))),
        None => None,
    };
    match chosen {
        Some(name) => name.clone(),
        None => {
            let mut out = String::new();
            let mut upper = false;
            for c in ident.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

struct FieldRow {
    json: String,
    tag: u32,
    repeated: bool,
    /// The field's message type, for finding inlined fields.
    message: Option<String>,
    inline: bool,
    ty: String,
}

fn struct_fields(
    module: &[String],
    s: &syn::ItemStruct,
    json_names: &JsonNames,
) -> Option<Vec<FieldRow>> {
    let is_message = s.attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().contains("Message"))
    });
    if !is_message {
        return None;
    }
    let mut rows = Vec::new();
    for f in &s.fields {
        let Some(attr) = f.attrs.iter().find(|a| a.path().is_ident("prost")) else {
            continue;
        };
        let mut kind = None;
        let mut map = None;
        let mut tag = 0;
        let mut repeated = false;
        attr.parse_nested_meta(|meta| {
            let id = meta.path.get_ident().unwrap().to_string();
            match id.as_str() {
                "tag" => {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    tag = lit.value().parse().unwrap();
                }
                "btree_map" | "map" => {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    map = Some(lit.value());
                }
                "bytes" | "packed" => {
                    let _: syn::LitStr = meta.value()?.parse()?;
                    if id == "bytes" {
                        kind = Some("bytes".to_string());
                    }
                }
                "repeated" => repeated = true,
                "optional" | "required" | "boxed" => {}
                other => kind = Some(other.to_string()),
            }
            Ok(())
        })
        .unwrap();
        let ident = f.ident.as_ref().unwrap().to_string();
        let ident = ident.trim_start_matches("r#");
        let message = (map.is_none() && kind.as_deref() == Some("message"))
            .then(|| message_name(module, innermost(&f.ty)));
        let ty = match (map, kind.as_deref()) {
            (Some(map), _) => {
                let (key, value) = map.split_once(',').unwrap();
                assert_eq!(key.trim(), "string", "{ident}: only string-keyed maps");
                let value = match value.trim() {
                    "message" => message_type(module, generic_args(&f.ty).last().unwrap()),
                    scalar => scalar_type(scalar),
                };
                format!("Type::Map(&{value})")
            }
            (None, Some("message")) => message_type(module, innermost(&f.ty)),
            (None, Some(scalar)) => scalar_type(scalar),
            (None, None) => panic!("{ident}: no wire type"),
        };
        rows.push(FieldRow {
            json: json_name(&s.ident.to_string(), ident, json_names),
            tag,
            repeated,
            message,
            inline: false,
            ty,
        });
    }
    Some(rows)
}

fn scalar_type(prost: &str) -> String {
    let s = match prost {
        "string" => "String",
        "bytes" => "Bytes",
        "bool" => "Bool",
        "int32" => "Int32",
        "int64" => "Int64",
        "double" => "Double",
        other => panic!("unexpected prost scalar {other}"),
    };
    format!("Type::Scalar(Scalar::{s})")
}

fn generic_args(ty: &syn::Type) -> Vec<&syn::Type> {
    let syn::Type::Path(p) = ty else {
        return Vec::new();
    };
    let last = p.path.segments.last().unwrap();
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `Option<Box<super::X>>` → `super::X`.
fn innermost(ty: &syn::Type) -> &syn::Type {
    match generic_args(ty).as_slice() {
        [inner] => innermost(inner),
        _ => ty,
    }
}

fn message_type(module: &[String], ty: &syn::Type) -> String {
    format!("Type::Message({:?})", message_name(module, ty))
}

fn message_name(module: &[String], ty: &syn::Type) -> String {
    let syn::Type::Path(p) = innermost(ty) else {
        panic!("message field of a non-path type");
    };
    let mut path = module.to_vec();
    let segments: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg == "super" {
            path.pop();
        } else {
            path.extend(segments[i..].iter().cloned());
            break;
        }
    }
    path.join(".")
}

/// Marks the fields Go embeds with `json:",inline"`: k8s-openapi's struct (flattened) lacks the
/// field's own name but has names of the field's message.
fn mark_inline(messages: &mut BTreeMap<String, Vec<FieldRow>>, json_names: &JsonNames) {
    let field_names = |name: &str, messages: &BTreeMap<String, Vec<FieldRow>>| -> Vec<String> {
        messages
            .get(name)
            .map(|fs| fs.iter().map(|f| f.json.clone()).collect())
            .unwrap_or_default()
    };
    let names: Vec<String> = messages.keys().cloned().collect();
    for name in names {
        let short = name.rsplit('.').next().unwrap();
        let Some(openapi) = json_names.by_struct.get(&fold(short)) else {
            continue;
        };
        let inline: Vec<bool> = messages[&name]
            .iter()
            .map(|f| {
                !f.repeated
                    && !openapi.contains(&f.json)
                    && f.message.as_deref().is_some_and(|m| {
                        field_names(m, messages).iter().any(|n| openapi.contains(n))
                    })
            })
            .collect();
        for (f, inline) in messages.get_mut(&name).unwrap().iter_mut().zip(inline) {
            f.inline = inline;
        }
    }
}

fn render(messages: &BTreeMap<String, Vec<FieldRow>>) -> String {
    let mut out = String::from(
        "// @generated by tests/generated_table.rs from k8s-pb and k8s-openapi; do not edit.\n\n\
         use crate::table::{Field, Message, Scalar, Type};\n\n\
         pub static MESSAGES: &[Message] = &[\n",
    );
    for (name, fields) in messages {
        writeln!(
            out,
            "    Message {{\n        name: {name:?},\n        fields: &["
        )
        .unwrap();
        for f in fields {
            writeln!(
                out,
                "            Field {{ json: {:?}, tag: {}, repeated: {}, inline: {}, ty: {} }},",
                f.json, f.tag, f.repeated, f.inline, f.ty
            )
            .unwrap();
        }
        out.push_str("        ],\n    },\n");
    }
    out.push_str("];\n");
    out
}
