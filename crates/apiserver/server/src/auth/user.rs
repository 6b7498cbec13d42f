//! Who a request is: upstream's `user.Info` and the well-known users and groups.

use std::collections::BTreeMap;

use serde::Serialize;

pub const ANONYMOUS: &str = "system:anonymous";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group whose members may do anything, without authorization.
pub const MASTERS: &str = "system:masters";
pub const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

// === impl UserInfo ===

impl UserInfo {
    pub fn anonymous() -> Self {
        UserInfo {
            username: ANONYMOUS.into(),
            groups: vec![UNAUTHENTICATED.into()],
            ..Default::default()
        }
    }

    /// A user of fixed name and groups (the admin's token), `system:authenticated` added.
    pub fn named(username: &str, groups: &[&str]) -> Self {
        let mut user = UserInfo {
            username: username.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
        user.add_group(AUTHENTICATED);
        user
    }

    /// A ServiceAccount's user: `system:serviceaccount:NS:NAME` in
    /// `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> Self {
        UserInfo {
            username: super::token::subject(namespace, name),
            uid: uid.into(),
            groups: vec![
                SERVICE_ACCOUNTS.into(),
                format!("{SERVICE_ACCOUNTS}:{namespace}"),
                AUTHENTICATED.into(),
            ],
            extra: BTreeMap::new(),
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    pub fn is_anonymous(&self) -> bool {
        self.username == ANONYMOUS
    }

    fn add_group(&mut self, group: &str) {
        if !self.in_group(group) {
            self.groups.push(group.into());
        }
    }
}
