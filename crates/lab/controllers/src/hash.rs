//! Template hashes: `pod-template-hash`, a stable name for one version of a Deployment's pod
//! template, and `controller-revision-hash`, the name of a ControllerRevision's data.
//!
//! For `pod-template-hash` upstream hashes the Go struct's printed form with FNV-32a (plus `collisionCount`) and
//! writes the decimal number with `rand.SafeEncodeString`'s vowel-free alphabet. The Go
//! printing cannot be reproduced here, so the input is the template's JSON; the shape of the
//! value (`5d59d67564`-like) and its properties (same template → same hash, any change → a
//! new one, collisionCount → a new one) are upstream's.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The label carrying the hash on pods (upstream `DefaultDeploymentUniqueLabelKey`).
pub const LABEL: &str = "pod-template-hash";

/// `rand.SafeEncodeString`'s alphabet: no vowels, no confusable characters, so that hashes
/// never spell words.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut t = template.clone();
    // The hash must not depend on itself (a template that already carries the label).
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(LABEL);
    }
    hash_bytes(
        &serde_json::to_vec(&t).expect("templates serialize"),
        collision_count,
    )
}

/// FNV-32a of `bytes` (then of the collision count), written with the safe alphabet: the
/// shape of upstream's `ComputeHash` and `HashControllerRevision`.
pub fn hash_bytes(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut h = Fnv32a::new();
    h.write(bytes);
    if let Some(c) = collision_count {
        h.write(c.to_string().as_bytes());
    }
    safe_encode(&h.0.to_string())
}

fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

struct Fnv32a(u32);

// === impl Fnv32a ===

impl Fnv32a {
    fn new() -> Self {
        Fnv32a(0x811c_9dc5)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        let mut h = Fnv32a::new();
        h.write(b"");
        assert_eq!(h.0, 0x811c9dc5);
        let mut h = Fnv32a::new();
        h.write(b"a");
        assert_eq!(h.0, 0xe40c292c);
        let mut h = Fnv32a::new();
        h.write(b"foobar");
        assert_eq!(h.0, 0xbf9cf968);
    }

    #[test]
    fn safe_encoding_maps_each_digit_through_the_alphabet() {
        // '0' is byte 48: 48 % 27 = 21 → '4'; '9' is 57 % 27 = 3 → 'f'.
        assert_eq!(safe_encode("0129"), "456f");
    }

    #[test]
    fn same_template_same_hash_and_any_change_a_new_one() {
        let a = pod_template_hash(&template("nginx:1.27"), None);
        assert_eq!(a, pod_template_hash(&template("nginx:1.27"), None));
        assert_ne!(a, pod_template_hash(&template("nginx:1.28"), None));
        assert_ne!(a, pod_template_hash(&template("nginx:1.27"), Some(1)));
        assert!(a.bytes().all(|b| ALPHANUMS.contains(&b)), "{a}");
        assert!((1..=10).contains(&a.len()));
    }

    #[test]
    fn the_hash_label_itself_does_not_change_the_hash() {
        let plain = template("nginx");
        let mut labelled = plain.clone();
        labelled
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(LABEL.into(), "x".into());
        assert_eq!(
            pod_template_hash(&plain, None),
            pod_template_hash(&labelled, None)
        );
    }
}
