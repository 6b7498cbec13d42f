//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answered with
//! a `meta.k8s.io/v1` Table whose columns are kubectl's (priority-1 columns are `-o wide`).

mod age;
mod printers;

pub use age::human_duration;

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// One column: its header and, for a wide-only column, priority 1.
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub priority: u8,
}

/// What a row carries as its `object` (`?includeObject=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

// === impl IncludeObject ===

impl IncludeObject {
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Renders objects of one kind as a Table.
pub fn table(
    rt: &ResourceType,
    items: &[&Value],
    resource_version: Option<u64>,
    include: IncludeObject,
) -> Value {
    let now = jiff::Timestamp::now();
    type Cells<'a> = Box<dyn Fn(&Value) -> Vec<Value> + 'a>;
    let (definitions, cells): (Vec<Value>, Cells) = match rt.custom {
        // A custom resource's columns are its CRD's additionalPrinterColumns after the name.
        Some(custom) => {
            let definitions = std::iter::once(definition(&printers::NAME, ""))
                .chain(
                    custom
                        .columns
                        .iter()
                        .map(|c| definition(&c.column, &c.description)),
                )
                .collect();
            let cells = move |obj: &Value| {
                std::iter::once(obj["metadata"]["name"].clone())
                    .chain(custom.columns.iter().map(|c| c.cell(obj, now)))
                    .collect()
            };
            (definitions, Box::new(cells))
        }
        None => {
            let (columns, cells) = printers::printer(rt.kind);
            let definitions = columns.iter().map(|c| definition(c, "")).collect();
            (definitions, Box::new(move |obj: &Value| cells(obj, now)))
        }
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut row = json!({"cells": cells(obj)});
            match include {
                IncludeObject::None => {}
                IncludeObject::Object => row["object"] = (*obj).clone(),
                IncludeObject::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]});
                }
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = rv.to_string().into();
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": definitions, "rows": rows})
}

fn definition(c: &Column, description: &str) -> Value {
    let format = if c.name == "Name" { "name" } else { "" };
    json!({"name": c.name, "type": c.kind, "format": format, "description": description,
        "priority": c.priority})
}

/// Whether an Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}
