//! additionalPrinterColumns: a custom resource's server-side table columns, each a JSONPath
//! rendered by its type (a `date` as an age, as upstream's table convertor does).

use serde_json::{Value, json};

use super::path;
use crate::table::{Column, human_duration};

pub struct PrinterColumn {
    pub column: Column,
    pub json_path: String,
    pub description: String,
}

// === impl PrinterColumn ===

impl PrinterColumn {
    /// The columns of a CRD version; none given means the default Age column.
    pub fn from_crd(columns: &Value) -> Vec<PrinterColumn> {
        let given: Vec<PrinterColumn> = columns
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| PrinterColumn {
                column: Column {
                    name: leak(c["name"].as_str().unwrap_or("")),
                    kind: leak(c["type"].as_str().unwrap_or("string")),
                    priority: c["priority"].as_u64().unwrap_or(0).min(u8::MAX.into()) as u8,
                },
                json_path: c["jsonPath"].as_str().unwrap_or("").to_string(),
                description: c["description"].as_str().unwrap_or("").to_string(),
            })
            .collect();
        if !given.is_empty() {
            return given;
        }
        vec![PrinterColumn {
            column: Column {
                name: "Age",
                kind: "date",
                priority: 0,
            },
            json_path: ".metadata.creationTimestamp".into(),
            description: String::new(),
        }]
    }

    pub fn cell(&self, obj: &Value, now: jiff::Timestamp) -> Value {
        let Some(v) = path::lookup(obj, &self.json_path).filter(|v| !v.is_null()) else {
            return Value::Null;
        };
        match self.column.kind {
            "date" => v
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .map(|at| json!(human_duration(now.duration_since(at).as_secs())))
                .unwrap_or(Value::Null),
            "integer" | "number" | "boolean" => v.clone(),
            _ => match v {
                Value::String(_) => v.clone(),
                other => other.to_string().into(),
            },
        }
    }
}

/// The names of a CRD live as long as the interned kind that holds them.
pub(crate) fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_by_type() {
        let columns = PrinterColumn::from_crd(&json!([
            {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ports", "type": "string", "jsonPath": ".spec.ports"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ]));
        let obj = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"cronSpec": "* * * * */5", "replicas": 3, "ports": [80]}});
        let now: jiff::Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let cells: Vec<Value> = columns.iter().map(|c| c.cell(&obj, now)).collect();
        assert_eq!(
            cells,
            vec![
                json!("* * * * */5"),
                json!(3),
                json!("[80]"),
                Value::Null,
                json!("5m")
            ]
        );
    }

    #[test]
    fn default_is_age() {
        let columns = PrinterColumn::from_crd(&Value::Null);
        assert_eq!(columns.len(), 1);
        assert_eq!(columns[0].column.name, "Age");
    }
}
