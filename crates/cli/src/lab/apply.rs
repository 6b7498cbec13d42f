//! `podnet lab apply` and `podnet lab delete`: what `kubectl apply -f` and `kubectl delete`
//! do, through server-side apply.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use podnet_lab_daemon::LabDir;

use super::client::{self, Catalog, Resource};
use super::manifest::{self, Object};

/// The field manager the built-in client applies as.
const FIELD_MANAGER: &str = "podnet";

/// Create or update objects from manifests (server-side apply), like `kubectl apply -f`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab apply -f examples/lab/web.yaml\n  \
    podnet lab apply -f examples/lab/          # every *.yaml, *.yml, *.json in it\n  \
    kubectl create deployment x --image=nginx --dry-run=client -o yaml | podnet lab apply -f -")]
pub struct ApplyArgs {
    /// A manifest file, a directory of them, or - for stdin (repeatable)
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Namespace for objects that name none
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
}

/// Delete the objects of manifests, or objects by type and name
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab delete -f examples/lab/web.yaml\n  \
    podnet lab delete deploy web -n default")]
pub struct DeleteArgs {
    /// A manifest file, a directory of them, or - for stdin (repeatable)
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// Without -f: the type, then the names (`pod web-1 web-2`)
    #[arg(conflicts_with = "files")]
    target: Vec<String>,
    /// Namespace for objects that name none
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// A missing object is not an error
    #[arg(long)]
    ignore_not_found: bool,
}

pub async fn apply(lab: &LabDir, args: ApplyArgs) -> anyhow::Result<()> {
    let objects = manifest::read_all(&args.files)?;
    let client = client::connect(lab).await?;
    let catalog = Catalog::discover(&client).await?;
    apply_objects(&client, &catalog, &objects, &args.namespace, true).await
}

/// Applies each object, printing `deployment.apps/web created|configured|unchanged`; goes on
/// past a failure and fails at the end if any object failed (as kubectl does).
pub async fn apply_objects(
    client: &kube::Client,
    catalog: &Catalog,
    objects: &[Object],
    namespace: &str,
    report: bool,
) -> anyhow::Result<()> {
    let mut failed = 0;
    for obj in objects {
        match apply_one(client, catalog, obj, namespace).await {
            Ok(line) if report => println!("{line}"),
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                eprintln!("{}: {}", obj.source, crate::report(&e));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} objects not applied", objects.len());
    }
    Ok(())
}

async fn apply_one(
    client: &kube::Client,
    catalog: &Catalog,
    obj: &Object,
    namespace: &str,
) -> anyhow::Result<String> {
    let rt = catalog.by_kind(obj.api_version(), obj.kind())?;
    let api = rt.api(client, obj.namespace().unwrap_or(namespace));
    let name = obj.name();
    let before = api.get_opt(name).await.map_err(client::api_error)?;
    let mut desired: DynamicObject = serde_json::from_value(obj.value.clone())?;
    if rt.namespaced && desired.metadata.namespace.is_none() {
        desired.metadata.namespace = Some(namespace.to_string());
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let after = api
        .patch(name, &params, &Patch::Apply(&desired))
        .await
        .map_err(client::api_error)?;
    let verb = match before {
        None => "created",
        Some(b) if same_content(&b, &after) => "unchanged",
        Some(_) => "configured",
    };
    Ok(format!("{}/{name} {verb}", rt.type_name()))
}

/// Whether an apply changed nothing but bookkeeping: a no-op apply may still bump the
/// resourceVersion and the managedFields timestamp.
fn same_content(before: &DynamicObject, after: &DynamicObject) -> bool {
    let strip = |o: &DynamicObject| {
        let mut o = o.clone();
        o.metadata.resource_version = None;
        o.metadata.managed_fields = None;
        o
    };
    strip(before) == strip(after)
}

pub async fn delete(lab: &LabDir, args: DeleteArgs) -> anyhow::Result<()> {
    let client = client::connect(lab).await?;
    let catalog = Catalog::discover(&client).await?;
    let mut targets: Vec<(&Resource, String, String)> = Vec::new();
    let objects;
    if !args.files.is_empty() {
        objects = manifest::read_all(&args.files)?;
        for obj in &objects {
            let rt = catalog.by_kind(obj.api_version(), obj.kind())?;
            let ns = obj.namespace().unwrap_or(&args.namespace).to_string();
            targets.push((rt, ns, obj.name().to_string()));
        }
    } else {
        let Some((kind, names)) = args.target.split_first() else {
            bail!("nothing to delete: give -f FILE, or a type and names");
        };
        if names.is_empty() {
            bail!("give the names of the {kind} to delete");
        }
        let rt = catalog.resolve(kind)?;
        for name in names {
            targets.push((rt, args.namespace.clone(), name.clone()));
        }
    }
    let mut failed = 0;
    for (rt, ns, name) in targets {
        match rt
            .api(&client, &ns)
            .delete(&name, &DeleteParams::default())
            .await
        {
            Ok(_) => println!("{} {name:?} deleted", rt.type_name()),
            Err(e) if client::is_not_found(&e) && args.ignore_not_found => {}
            Err(e) => {
                failed += 1;
                eprintln!("{}", client::api_error(e));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} objects not deleted");
    }
    Ok(())
}
