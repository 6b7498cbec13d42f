//! Authorization: RBAC (rbac.authorization.k8s.io/v1) as kube-apiserver's
//! `--authorization-mode=RBAC`, behind the `system:masters` superuser group.
//!
//! - [`rules`]: rule and subject matching (pure).
//! - [`node`]: the Node authorizer, for kubelets (`system:node:NAME`).
//! - [`policy`]: the authorizer over the stored roles and bindings, with aggregation.
//! - [`attributes`]: a request → what it asks, and the denial's wording.
//! - [`bootstrap`]: the default ClusterRoles and bindings.
//! - [`reviews`]: SelfSubjectReview, (Self/Local)SubjectAccessReview, SelfSubjectRulesReview.

pub mod attributes;
pub mod bootstrap;
pub mod node;
pub mod policy;
pub mod reviews;
pub mod rules;

pub use policy::{Decision, Policy};
pub use rules::Attributes;

use crate::App;
use crate::auth::user::MASTERS;

/// Whether `attrs` may happen: the superuser group always, anonymous requests while the
/// server keeps the lab's legacy anonymous access, a kubelet what the Node authorizer
/// allows it, everyone (and the rest of what a kubelet asks) as RBAC says.
pub fn authorize(app: &App, attrs: &Attributes) -> Decision {
    if attrs.user.in_group(MASTERS) {
        return Decision::Allow(String::new());
    }
    if attrs.user.is_anonymous() && app.auth.anonymous_is_admin {
        return Decision::Allow(String::new());
    }
    if let Some(node) = node::node_of(attrs)
        && let Some(reason) = node::authorize(&app.store, node, attrs)
    {
        return Decision::Allow(reason);
    }
    Policy::load(&app.store).authorize(attrs)
}
