//! Chunked lists (`limit` and `continue`), as kube-apiserver serves them: a page of at most
//! `limit` items in key order, and, when more remain, an opaque continue token naming the
//! list's resourceVersion and the key the next page starts after.
//!
//! Unlike etcd, the embedded store keeps no snapshots: a continued list reads the current
//! objects after the token's key (an object created behind the cursor meanwhile is not
//! seen, one deleted ahead of it is not returned), while the pages keep reporting the first
//! page's resourceVersion so that a watch started from it misses nothing.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;

/// What a continue token carries (upstream's fields and spelling).
#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: u64,
    start: String,
}

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

/// One page of a list.
pub struct Page {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    /// Present when items remain after this page.
    pub continue_token: Option<String>,
    /// How many remain, when known (upstream omits it under selectors; so does this).
    pub remaining: Option<usize>,
}

/// The position of an object in a list: its namespace and name.
fn position(obj: &Value) -> String {
    let m = &obj["metadata"];
    format!(
        "{}/{}",
        m["namespace"].as_str().unwrap_or(""),
        m["name"].as_str().unwrap_or("")
    )
}

/// Cuts `items` (in the store's key order, listed at `resource_version`) into the page the
/// request's `limit` and `continue` ask for. `selective`: a label or field selector
/// filtered the items (the remaining count is then not given).
pub fn page(
    mut items: Vec<Arc<Value>>,
    resource_version: u64,
    limit: Option<&str>,
    continue_token: Option<&str>,
    selective: bool,
) -> Result<Page, ApiError> {
    let limit = match limit {
        None | Some("") | Some("0") => None,
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            ApiError::BadRequest(format!(
                "invalid limit {l:?}: must be a non-negative integer"
            ))
        })?),
    };
    let mut resource_version = resource_version;
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        let token = decode(token)?;
        resource_version = token.rv;
        items.retain(|obj| position(obj) > token.start);
    }
    let Some(limit) = limit.filter(|l| *l < items.len()) else {
        return Ok(Page {
            items,
            resource_version,
            continue_token: None,
            remaining: None,
        });
    };
    let rest = items.split_off(limit);
    let last = items.last().map(|o| position(o)).unwrap_or_default();
    let token = Token {
        v: TOKEN_VERSION.into(),
        rv: resource_version,
        start: last,
    };
    let encoded = URL_SAFE.encode(serde_json::to_vec(&token).expect("tokens serialize"));
    Ok(Page {
        items,
        resource_version,
        continue_token: Some(encoded),
        remaining: (!selective).then_some(rest.len()),
    })
}

fn decode(token: &str) -> Result<Token, ApiError> {
    let invalid = |why: &str| ApiError::BadRequest(format!("continue key is not valid: {why}"));
    let bytes = URL_SAFE
        .decode(token)
        .map_err(|_| invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
    let token: Token =
        serde_json::from_slice(&bytes).map_err(|_| invalid("unrecognised continue token"))?;
    if token.v != TOKEN_VERSION {
        return Err(invalid(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn objects(names: &[&str]) -> Vec<Arc<Value>> {
        names
            .iter()
            .map(|n| Arc::new(json!({"metadata": {"namespace": "default", "name": n}})))
            .collect()
    }

    fn names(page: &Page) -> Vec<&str> {
        page.items
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn pages_walk_the_list_in_order_and_end_without_a_token() {
        let all = objects(&["a", "b", "c", "d", "e"]);
        let first = page(all.clone(), 7, Some("2"), None, false).unwrap();
        assert_eq!(names(&first), ["a", "b"]);
        assert_eq!(first.remaining, Some(3));
        let token = first.continue_token.clone().unwrap();
        let second = page(all.clone(), 9, Some("2"), Some(&token), false).unwrap();
        assert_eq!(names(&second), ["c", "d"]);
        // Every page reports the first page's resourceVersion.
        assert_eq!(second.resource_version, 7);
        let third = page(all, 9, Some("2"), second.continue_token.as_deref(), false).unwrap();
        assert_eq!(names(&third), ["e"]);
        assert!(third.continue_token.is_none());
    }

    #[test]
    fn no_limit_or_a_limit_past_the_end_is_the_whole_list() {
        let all = objects(&["a", "b"]);
        for limit in [None, Some("0"), Some("2"), Some("500")] {
            let p = page(all.clone(), 1, limit, None, false).unwrap();
            assert_eq!(names(&p), ["a", "b"]);
            assert!(p.continue_token.is_none());
        }
    }

    #[test]
    fn selectors_hide_the_remaining_count() {
        let p = page(objects(&["a", "b", "c"]), 1, Some("1"), None, true).unwrap();
        assert!(p.continue_token.is_some());
        assert_eq!(p.remaining, None);
    }

    #[test]
    fn a_bad_token_or_limit_is_a_bad_request() {
        let all = objects(&["a"]);
        for (limit, token) in [
            (None, Some("!!!")),
            (None, Some("e30=")),
            (Some("-1"), None),
        ] {
            let err = page(all.clone(), 1, limit, token, false).err().unwrap();
            assert!(
                matches!(err, ApiError::BadRequest(_)),
                "{limit:?} {token:?}"
            );
        }
    }
}
