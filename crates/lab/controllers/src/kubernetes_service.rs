//! The `kubernetes` Service in `default` and its EndpointSlice, pointing at the API server.
//! Upstream, kube-apiserver's own bootstrap controller keeps them (not the EndpointSlice
//! controller: the Service has no selector); in the lab this loop runs beside the API server
//! and re-asserts them every [`PERIOD`], as upstream's reconciler does.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use podnet_lab_controllers_alloc::ClusterIpAllocator;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::endpointslice::plan::LABEL_SERVICE_NAME;
use crate::error::{Error, is_not_found};

pub const NAME: &str = "kubernetes";
pub const NAMESPACE: &str = "default";
pub const PERIOD: Duration = Duration::from_secs(10);

fn meta(labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(NAME.into()),
        namespace: Some(NAMESPACE.into()),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

/// The Service: the first address of the service CIDR, port 443 (`https`) → the API server.
pub fn service(config: &Config) -> Service {
    let ip = config
        .service_subnets
        .first()
        .map(|c| ClusterIpAllocator::new(*c).first().to_string());
    Service {
        metadata: meta(&[("component", "apiserver"), ("provider", "kubernetes")]),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: ip.clone(),
            cluster_ips: ip.map(|ip| vec![ip]),
            session_affinity: Some("None".into()),
            ports: Some(vec![ServicePort {
                name: Some("https".into()),
                port: 443,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::Int(i32::from(config.api_server.port()))),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// Its EndpointSlice, named like the Service and labelled only with the service name, as
/// kube-apiserver writes it.
pub fn endpoint_slice(config: &Config) -> EndpointSlice {
    let ip = config.api_server.ip();
    EndpointSlice {
        metadata: meta(&[(LABEL_SERVICE_NAME, NAME)]),
        address_type: if ip.is_ipv6() { "IPv6" } else { "IPv4" }.into(),
        endpoints: Some(vec![Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ports: Some(vec![EndpointPort {
            name: Some("https".into()),
            port: Some(i32::from(config.api_server.port())),
            protocol: Some("TCP".into()),
            app_protocol: None,
        }]),
    }
}

/// Keeps both in place until `shutdown`.
pub async fn run(client: Client, config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        if let Err(error) = ensure(&client, &config).await {
            tracing::warn!(%error, "kubernetes service");
        }
    }
}

async fn ensure(client: &Client, config: &Config) -> Result<(), Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    match services.get(NAME).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {
            services
                .create(&PostParams::default(), &service(config))
                .await?;
            tracing::info!("created the kubernetes service");
        }
        Err(e) => return Err(e.into()),
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let want = endpoint_slice(config);
    match slices.get(NAME).await {
        Ok(have) if have.endpoints == want.endpoints && have.ports == want.ports => {}
        Ok(have) => {
            let mut next = want;
            next.metadata.resource_version = have.resource_version();
            slices.replace(NAME, &PostParams::default(), &next).await?;
        }
        Err(e) if is_not_found(&e) => {
            slices.create(&PostParams::default(), &want).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;

    #[test]
    fn the_service_takes_the_first_service_address_and_points_at_the_api_server() {
        let c = Config::lab("kind", &[Role::ControlPlane]);
        let s = service(&c);
        let spec = s.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
        let p = &spec.ports.unwrap()[0];
        assert_eq!(
            (p.port, p.target_port.clone()),
            (443, Some(IntOrString::Int(6443)))
        );
        let e = endpoint_slice(&c);
        assert_eq!(e.endpoints.unwrap()[0].addresses, ["172.18.0.1"]);
        assert_eq!(e.ports.unwrap()[0].port, Some(6443));
        assert_eq!(
            e.metadata.labels.unwrap().len(),
            1,
            "no managed-by label: not the controller's"
        );
    }
}
