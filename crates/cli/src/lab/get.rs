//! `podnet lab get`: kubectl's `get`, human output from the server's Table (so the columns
//! are the server's, as kubectl shows them), or the objects as YAML, JSON or names.

use anyhow::bail;
use clap::{Args, ValueEnum};
use podnet_lab_daemon::LabDir;
use serde_json::Value;

use super::client::{self, Catalog, Resource};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Show objects of one type, like `kubectl get`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab get nodes\n  \
    podnet lab get po -A -o wide\n  \
    podnet lab get svc web -o yaml\n  \
    podnet lab get eps -l kubernetes.io/service-name=web")]
pub struct GetArgs {
    /// The type: name, plural, short name or Kind (po, svc, deploy, eps, deployments.apps…);
    /// several separated by commas (`svc,eps`)
    kind: String,
    /// Only these objects
    names: Vec<String>,
    /// The namespace
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Every namespace
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only objects whose labels match (`app=web,tier!=db`)
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Output format (default: the server's table)
    #[arg(short = 'o', long, value_enum)]
    output: Option<Output>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Wide,
    Yaml,
    Json,
    Name,
}

pub async fn get(lab: &LabDir, args: GetArgs) -> anyhow::Result<()> {
    let client = client::connect(lab).await?;
    let catalog = Catalog::discover(&client).await?;
    let kinds: Vec<&str> = args.kind.split(',').filter(|k| !k.is_empty()).collect();
    let types = kinds
        .iter()
        .map(|k| catalog.resolve(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if types.len() > 1 && !args.names.is_empty() {
        bail!(
            "names can only be given with one type (got {:?})",
            args.kind
        );
    }
    for (i, rt) in types.iter().enumerate() {
        if i > 0 && args.output.is_none_or(|o| o == Output::Wide) {
            println!();
        }
        get_one(&client, rt, &args, types.len() > 1).await?;
    }
    Ok(())
}

/// One type's objects; `qualify`: several types are shown, so names read `service/web`.
async fn get_one(
    client: &kube::Client,
    rt: &Resource,
    args: &GetArgs,
    qualify: bool,
) -> anyhow::Result<()> {
    let client = client.clone();
    let ns = (rt.namespaced && !args.all_namespaces).then_some(args.namespace.as_str());
    match args.output {
        Some(Output::Yaml) | Some(Output::Json) => {
            let value = objects(&client, rt, ns, args).await?;
            if args.output == Some(Output::Json) {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", serde_yaml_ng::to_string(&value)?);
            }
        }
        Some(Output::Name) => {
            let value = objects(&client, rt, ns, args).await?;
            let items = match value["items"].as_array() {
                Some(items) => items.clone(),
                None => vec![value],
            };
            for item in items {
                let name = item["metadata"]["name"].as_str().unwrap_or_default();
                println!("{}/{name}", rt.type_name());
            }
        }
        None | Some(Output::Wide) => {
            let wide = args.output == Some(Output::Wide);
            let mut table = tables(&client, rt, ns, args).await?;
            if qualify {
                qualify_names(&mut table, &rt.type_name());
            }
            let with_ns = rt.namespaced && args.all_namespaces;
            match render(&table, wide, with_ns) {
                Some(text) => print!("{text}"),
                None if ns.is_some() => {
                    eprintln!("No resources found in {} namespace.", args.namespace)
                }
                None => eprintln!("No resources found"),
            }
        }
    }
    Ok(())
}

/// `web` → `service/web` in the Name column, as kubectl shows several types.
fn qualify_names(table: &mut Value, type_name: &str) {
    let Some(col) = table["columnDefinitions"]
        .as_array()
        .and_then(|c| c.iter().position(|c| c["name"] == "Name"))
    else {
        return;
    };
    for row in table["rows"].as_array_mut().into_iter().flatten() {
        if let Some(Value::String(name)) = row["cells"].get_mut(col) {
            *name = format!("{type_name}/{name}");
        }
    }
}

/// The named objects (a List when several), or the collection.
async fn objects(
    client: &kube::Client,
    rt: &Resource,
    ns: Option<&str>,
    args: &GetArgs,
) -> anyhow::Result<Value> {
    if let [name] = args.names.as_slice() {
        return fetch(client, &rt.path(ns, Some(name)), "application/json").await;
    }
    if args.names.is_empty() {
        return fetch(
            client,
            &with_selector(rt.path(ns, None), args),
            "application/json",
        )
        .await;
    }
    let mut items = Vec::new();
    for name in &args.names {
        items.push(fetch(client, &rt.path(ns, Some(name)), "application/json").await?);
    }
    Ok(serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
}

/// One Table with the rows of every named object, or of the collection.
async fn tables(
    client: &kube::Client,
    rt: &Resource,
    ns: Option<&str>,
    args: &GetArgs,
) -> anyhow::Result<Value> {
    if args.names.is_empty() {
        return fetch(client, &with_selector(rt.path(ns, None), args), TABLE).await;
    }
    let mut table = Value::Null;
    for name in &args.names {
        let one = fetch(client, &rt.path(ns, Some(name)), TABLE).await?;
        match table["rows"].as_array_mut() {
            Some(rows) => rows.extend(one["rows"].as_array().cloned().unwrap_or_default()),
            None => table = one,
        }
    }
    Ok(table)
}

fn with_selector(path: String, args: &GetArgs) -> String {
    match &args.selector {
        Some(sel) => {
            let q: String = form_urlencoded_pair("labelSelector", sel);
            format!("{path}?{q}")
        }
        None => path,
    }
}

fn form_urlencoded_pair(key: &str, value: &str) -> String {
    let enc: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{key}={enc}")
}

async fn fetch(client: &kube::Client, path: &str, accept: &str) -> anyhow::Result<Value> {
    let text = client::get_text(client, path, accept)
        .await
        .map_err(client::api_error)?;
    match serde_json::from_str(&text) {
        Ok(v) => Ok(v),
        Err(e) => bail!("the server's answer to GET {path} is not JSON: {e}"),
    }
}

/// The Table as kubectl prints it: upper-case headers, columns padded to their widest cell
/// plus three spaces. None when it has no rows.
fn render(table: &Value, wide: bool, with_namespace: bool) -> Option<String> {
    let rows = table["rows"].as_array().filter(|r| !r.is_empty())?;
    let columns = table["columnDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let shown: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| wide || c["priority"].as_i64().unwrap_or(0) == 0)
        .map(|(i, _)| i)
        .collect();
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = shown
        .iter()
        .map(|i| {
            columns[*i]["name"]
                .as_str()
                .unwrap_or_default()
                .to_uppercase()
        })
        .collect();
    if with_namespace {
        header.insert(0, "NAMESPACE".into());
    }
    lines.push(header);
    for row in rows {
        let cells = row["cells"].as_array().cloned().unwrap_or_default();
        let mut line: Vec<String> = shown
            .iter()
            .map(|i| cell(cells.get(*i).unwrap_or(&Value::Null)))
            .collect();
        if with_namespace {
            let ns = row["object"]["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default();
            line.insert(0, ns.to_string());
        }
        lines.push(line);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let last = line.len() - 1;
        for (c, text) in line.iter().enumerate() {
            if c == last {
                out.push_str(text);
            } else {
                out.push_str(&format!("{text:<w$}", w = widths[c] + 3));
            }
        }
        out.push('\n');
    }
    Some(out)
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<none>".into(),
        other => other.to_string(),
    }
}
