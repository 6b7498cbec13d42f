//! An Established CRD's served versions as resource types, preferred version first.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::CustomVersion;
use super::columns::{PrinterColumn, leak};
use super::scale::ScalePaths;
use crate::resources::ResourceType;
use crate::validate::{self, Errors};

/// Each served version of `crd`, with the key that identifies its definition and how to
/// build its [`ResourceType`].
pub fn served(crd: &Value) -> Vec<(String, impl FnOnce() -> ResourceType + use<>)> {
    let spec = crd["spec"].clone();
    let mut versions: Vec<Value> = spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] == true)
        .cloned()
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v["name"].as_str().unwrap_or(""))));
    versions
        .into_iter()
        .map(|version| {
            let key =
                serde_json::to_string(&(&spec["group"], &spec["names"], &spec["scope"], &version))
                    .expect("JSON values serialize");
            let spec = spec.clone();
            (key, move || build(&spec, &version))
        })
        .collect()
}

fn build(spec: &Value, version: &Value) -> ResourceType {
    let names = &spec["names"];
    let text = |v: &Value| leak(v.as_str().unwrap_or(""));
    let list = |v: &Value| -> &'static [&'static str] {
        let items: Vec<&'static str> = v.as_array().into_iter().flatten().map(text).collect();
        Box::leak(items.into_boxed_slice())
    };
    let namespaced = spec["scope"] == "Namespaced";
    let subresources = &version["subresources"];
    let custom = CustomVersion {
        schema: version["schema"]["openAPIV3Schema"].clone(),
        columns: PrinterColumn::from_crd(&version["additionalPrinterColumns"]),
        scale: ScalePaths::from_crd(&subresources["scale"]),
    };
    ResourceType {
        group: text(&spec["group"]),
        version: text(&version["name"]),
        kind: text(&names["kind"]),
        plural: text(&names["plural"]),
        singular: text(&names["singular"]),
        namespaced,
        short_names: list(&names["shortNames"]),
        categories: list(&names["categories"]),
        status: subresources["status"].is_object(),
        scale: custom.scale.is_some(),
        fields: &[],
        decode: decode_custom,
        validate: if namespaced {
            validate_namespaced
        } else {
            validate_cluster
        },
        custom: Some(Box::leak(Box::new(custom))),
        openapi: None,
        view: None,
    }
}

/// A custom resource's shape check: its metadata must be an ObjectMeta (the rest is the
/// schema's business).
fn decode_custom(v: &Value) -> Result<Value, String> {
    let mut out = v.clone();
    if let Some(m) = v.get("metadata").filter(|m| !m.is_null()) {
        let meta: ObjectMeta =
            serde_json::from_value(m.clone()).map_err(|e| format!("metadata: {e}"))?;
        out["metadata"] = serde_json::to_value(meta).expect("typed objects serialize");
    }
    Ok(out)
}

fn validate_namespaced(obj: &Value, errs: &mut Errors) {
    validate::object_meta(obj, true, false, errs);
}

fn validate_cluster(obj: &Value, errs: &mut Errors) {
    validate::object_meta(obj, false, false, errs);
}

/// Kubernetes' version order: GA before beta before alpha, higher numbers first, and other
/// names after all of them (`v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1` > `foo`).
pub fn version_priority(name: &str) -> (u8, u64, u64) {
    let Some(rest) = name.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let Ok(major) = rest[..digits].parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits..];
    let (level, minor) = match tail {
        "" => (3, 0),
        t => match t
            .strip_prefix("beta")
            .map(|n| (2, n))
            .or_else(|| t.strip_prefix("alpha").map(|n| (1, n)))
        {
            Some((level, n)) => match n.parse::<u64>() {
                Ok(minor) => (level, minor),
                Err(_) => return (0, 0, 0),
            },
            None => return (0, 0, 0),
        },
    };
    (level, major, minor)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn versions_in_kube_order() {
        let mut names = vec![
            "v1alpha1",
            "foo",
            "v1",
            "v1beta2",
            "v2",
            "v1beta1",
            "v11alpha2",
        ];
        names.sort_by_key(|n| std::cmp::Reverse(version_priority(n)));
        assert_eq!(
            names,
            vec![
                "v2",
                "v1",
                "v1beta2",
                "v1beta1",
                "v11alpha2",
                "v1alpha1",
                "foo"
            ]
        );
    }

    #[test]
    fn served_versions_only_preferred_first() {
        let crd = json!({"spec": {"group": "stable.example.com", "scope": "Namespaced",
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                "shortNames": ["ct"]},
            "versions": [
                {"name": "v1beta1", "served": true, "storage": false},
                {"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas"}}},
                {"name": "v1alpha1", "served": false, "storage": false}]}});
        let types: Vec<ResourceType> = served(&crd).into_iter().map(|(_, build)| build()).collect();
        let versions: Vec<&str> = types.iter().map(|t| t.version).collect();
        assert_eq!(versions, vec!["v1", "v1beta1"]);
        assert!(types[0].status && types[0].scale && !types[1].status);
        assert_eq!(types[0].short_names, &["ct"]);
        assert_eq!(types[0].qualified(), "crontabs.stable.example.com");
    }
}
