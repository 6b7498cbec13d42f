//! `podnet gateway`: the cluster's HTTP front door — the Ingress (and Gateway API)
//! controller and the proxy that serves what it configures, in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use podnet_gateway_controller::{CONTROLLER_NAME, Options};
use podnet_gateway_proxy::{Config, Listen, Proxy, Settings};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Debug, Args)]
#[command(
    about = "Run the HTTP gateway: Ingress controller and reverse proxy (HTTP/1.1, HTTP/2, WebSocket, TLS)",
    long_about = "Run the HTTP gateway. It watches Ingresses, IngressClasses, Services, \
        EndpointSlices and Secrets through the API server and proxies HTTP/1.1, HTTP/2 and \
        WebSocket requests straight to the ready endpoints of the Service port each route \
        names (spreading requests, retrying a refused connect on another endpoint), \
        terminating TLS with the certificate of the Secret an Ingress's spec.tls names for \
        the client's SNI. It serves the Ingresses whose class is an IngressClass with \
        spec.controller podnet.io/gateway, and those without a class when such an \
        IngressClass is the default (ingressclass.kubernetes.io/is-default-class); their \
        status.loadBalancer.ingress is set to the LoadBalancer address of \
        --publish-service. Changes apply without dropping open connections. The admin \
        port serves /metrics (Prometheus), /healthz and /readyz.",
    after_help = "Example, against a lab, serving on unprivileged ports:\n\n  \
        podnet gateway --kubeconfig $(podnet lab kubeconfig) --http-port 8080 --https-port 8443\n  \
        curl -H 'Host: hello-world.example' http://127.0.0.1:8080/\n  \
        curl -s http://127.0.0.1:10254/metrics | grep podnet_gateway_requests_total\n\n\
        In the lab it runs as the Deployment podnet-gateway/podnet-gateway behind a\n\
        LoadBalancer Service (80, 443), installed by `podnet lab up`. Logs go to stderr\n\
        (RUST_LOG=info shows each status update, debug each configuration)."
)]
pub struct GatewayCommand {
    /// Kubeconfig to reach the API server; without it, in-cluster config or $KUBECONFIG.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Address the listeners bind.
    #[arg(long, default_value = "0.0.0.0", value_name = "IP")]
    pub address: std::net::IpAddr,
    /// Plain HTTP port (routes attach to it as port 80).
    #[arg(long, default_value_t = 80)]
    pub http_port: u16,
    /// TLS port (routes attach to it as port 443).
    #[arg(long, default_value_t = 443)]
    pub https_port: u16,
    /// /metrics, /healthz and /readyz.
    #[arg(long, default_value_t = 10254)]
    pub admin_port: u16,
    /// The gateway's own Service, whose LoadBalancer address served Ingresses report.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub publish_service: Option<String>,
    /// The IngressClass spec.controller value this gateway serves.
    #[arg(long, default_value = CONTROLLER_NAME, value_name = "NAME")]
    pub controller: String,
    /// Seconds from a request to its upstream's response headers before a 504.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub request_timeout: u64,
    /// Seconds an idle client connection is kept open.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub max_body_bytes: u64,
}

pub fn run(cmd: GatewayCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(serve(cmd))
}

async fn bind(ip: std::net::IpAddr, port: u16) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

async fn serve(cmd: GatewayCommand) -> anyhow::Result<()> {
    let publish_service = match &cmd.publish_service {
        None => None,
        Some(s) => Some(
            s.split_once('/')
                .map(|(ns, name)| (ns.to_owned(), name.to_owned()))
                .ok_or_else(|| podnet_gateway_controller::Error::PublishService(s.clone()))?,
        ),
    };
    let http = bind(cmd.address, cmd.http_port).await?;
    let https = bind(cmd.address, cmd.https_port).await?;
    let admin = bind(cmd.address, cmd.admin_port).await?;
    let client = podnet_gateway_controller::client(cmd.kubeconfig.as_deref()).await?;

    let (config_tx, config_rx) = watch::channel(Arc::new(Config::default()));
    let (stop_tx, stop) = watch::channel(false);
    let proxy = Proxy::new(
        config_rx,
        Settings {
            request_timeout: Duration::from_secs(cmd.request_timeout),
            idle_timeout: Duration::from_secs(cmd.idle_timeout),
            max_body_bytes: cmd.max_body_bytes,
            ..Settings::default()
        },
    );
    let mut tasks = tokio::task::JoinSet::new();
    for (listener, listen) in [
        (
            http,
            Listen {
                port: 80,
                tls: false,
            },
        ),
        (
            https,
            Listen {
                port: 443,
                tls: true,
            },
        ),
    ] {
        let (proxy, stop) = (proxy.clone(), stop.clone());
        tasks.spawn(async move {
            proxy
                .serve(listener, listen, stop)
                .await
                .map_err(anyhow::Error::from)
        });
    }
    {
        let (proxy, stop) = (proxy.clone(), stop.clone());
        tasks.spawn(async move {
            proxy
                .serve_admin(admin, stop)
                .await
                .map_err(anyhow::Error::from)
        });
    }
    let options = Options {
        controller: cmd.controller.clone(),
        publish_service,
    };
    let controller = tokio::spawn(podnet_gateway_controller::run(client, options, config_tx));

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = sigterm.recv() => tracing::info!("SIGTERM: finishing open requests"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: finishing open requests"),
        done = tasks.join_next() => {
            if let Some(Ok(Err(e))) = done {
                return Err(e);
            }
        }
    }
    controller.abort();
    let _ = stop_tx.send(true);
    // Open connections finish their requests; a stuck one does not hold the exit.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}
