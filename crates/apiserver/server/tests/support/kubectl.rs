//! kubectl against a test server's URL, as the test servers' admin (see `support::pki`).

#![allow(dead_code)]

use base64::Engine as _;

/// podnet-test-util's kubectl with the admin's client certificate and the test CA.
pub struct Kubectl(podnet_test_util::Kubectl);

impl Kubectl {
    pub fn new(server_url: &str) -> Self {
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let pki = crate::support::pki();
        Kubectl(podnet_test_util::Kubectl::with_kubeconfig(&format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {}\n\
             \x20   certificate-authority-data: {}\n\
             contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n\
             current-context: lab\nusers:\n- name: lab\n  user:\n\
             \x20   client-certificate-data: {}\n\
             \x20   client-key-data: {}\n",
            server_url,
            b64(&pki.ca_pem),
            b64(&pki.admin.cert_pem),
            b64(&pki.admin.key_pem),
        )))
    }
}

impl std::ops::Deref for Kubectl {
    type Target = podnet_test_util::Kubectl;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
