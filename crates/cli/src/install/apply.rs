//! Server-side apply of the objects, and their deletion, one line per object as kubectl
//! prints them (`daemonset.apps/podnet-agent serverside-applied`).

use anyhow::bail;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};

use crate::lab::client::{self, Catalog};
use crate::lab::manifest::Object;

/// The field manager of `podnet install`: a later `kubectl apply --server-side` of the same
/// files by an operator conflicts only where it changes what podnet set.
const FIELD_MANAGER: &str = "podnet-install";

pub async fn apply(client: &kube::Client, objects: &[Object], dry_run: bool) -> anyhow::Result<()> {
    let mut catalog = Catalog::discover(client).await?;
    let mut failed = 0;
    for obj in objects {
        // A CRD applied just before serves its kind only once discovery shows it.
        if catalog.by_kind(obj.api_version(), obj.kind()).is_err() {
            catalog = Catalog::discover(client).await?;
        }
        match apply_one(client, &catalog, obj, dry_run).await {
            Ok(line) => println!("{line}"),
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
    dry_run: bool,
) -> anyhow::Result<String> {
    let rt = catalog.by_kind(obj.api_version(), obj.kind())?;
    let api = rt.api(client, obj.namespace().unwrap_or("default"));
    let desired: DynamicObject = serde_json::from_value(obj.value.clone())?;
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = dry_run;
    api.patch(obj.name(), &params, &Patch::Apply(&desired))
        .await
        .map_err(client::api_error)?;
    let suffix = if dry_run { " (server dry run)" } else { "" };
    Ok(format!(
        "{}/{} serverside-applied{suffix}",
        rt.type_name(),
        obj.name()
    ))
}

/// Deletes the objects in reverse order (workloads before the roles they run as), CRDs
/// only with `crds`; a missing object is skipped.
pub async fn delete(
    client: &kube::Client,
    objects: &[Object],
    crds: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let catalog = Catalog::discover(client).await?;
    let params = DeleteParams {
        dry_run,
        ..DeleteParams::background()
    };
    let mut failed = 0;
    for obj in objects.iter().rev() {
        if obj.kind() == "CustomResourceDefinition" && !crds {
            continue;
        }
        // A kind the cluster does not serve (its CRD is gone) has no objects left.
        let Ok(rt) = catalog.by_kind(obj.api_version(), obj.kind()) else {
            continue;
        };
        let api = rt.api(client, obj.namespace().unwrap_or("default"));
        let suffix = if dry_run { " (server dry run)" } else { "" };
        match api.delete(obj.name(), &params).await {
            Ok(_) => println!("{} \"{}\" deleted{suffix}", rt.type_name(), obj.name()),
            Err(e) if client::is_not_found(&e) => {}
            Err(e) => {
                failed += 1;
                eprintln!("{}", crate::report(&client::api_error(e)));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} objects not deleted");
    }
    Ok(())
}
