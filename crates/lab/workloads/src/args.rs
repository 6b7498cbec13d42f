//! The workloads' flags, spelled as agnhost spells them (Go's pflag: `--http-port=8080` or
//! `--http-port 8080`, booleans as `--udp` or `--http=false`), and the pure parser of an
//! agnhost argument list.

use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::duration::parse_go_duration;
use crate::{Error, Result};

/// The agnhost sub-commands podnet provides.
pub const AGNHOST_SUBCOMMANDS: [&str; 4] = ["netexec", "serve-hostname", "connect", "pause"];

/// One built-in workload and its flags.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Workload {
    /// agnhost netexec: an HTTP server (/, /hostname, /clientip, /echo, /dial, /exit, /healthz,
    /// /readyz, /header, /redirect, /shell, /shutdown) and a UDP server (hostname, echo,
    /// clientip)
    #[command(after_help = NETEXEC_HELP)]
    Netexec(NetexecArgs),
    /// agnhost serve-hostname: answers the hostname over HTTP, or raw over TCP and/or UDP
    #[command(
        after_help = "Example:\n  podnet workload serve-hostname --udp --http=false --port 9376"
    )]
    ServeHostname(ServeHostnameArgs),
    /// agnhost connect: tries one connection; on failure prints TIMEOUT, REFUSED, DNS, OTHER
    /// or UNKNOWN on stderr and exits 1
    #[command(after_help = "Example:\n  podnet workload connect 10.96.0.1:443 --timeout=1s")]
    Connect(ConnectArgs),
    /// agnhost pause: waits for SIGINT (exit 1) or SIGTERM (exit 2)
    Pause(PauseArgs),
    /// podnet's own test server: netexec's HTTP endpoints on every TCP port and its UDP
    /// commands on every UDP port
    #[command(after_help = "Example:\n  podnet workload ports 80/tcp 443/tcp 53/udp")]
    Ports(PortsArgs),
    /// The `gcr.io/google-samples/hello-app` image: "Hello, world!", its version and the
    /// hostname on every path, on $PORT (8080)
    #[command(after_help = "Example:\n  PORT=9000 podnet workload hello-app --version 2.0.0")]
    HelloApp(HelloAppArgs),
    /// The `kubernetes-bootcamp` image of the Kubernetes basics tutorial: `Hello Kubernetes
    /// bootcamp! | Running on: HOSTNAME | v=VERSION` on every path, on port 8080
    #[command(after_help = "Example:\n  podnet workload kubernetes-bootcamp --version 2")]
    KubernetesBootcamp(BootcampArgs),
    /// The `gcr.io/google-samples/node-hello` image of the "Exposing an External IP Address"
    /// tutorial: `Hello Kubernetes!` on every path, on port 8080
    #[command(after_help = "Example:\n  podnet workload node-hello --port 8080")]
    NodeHello(NodeHelloArgs),
    /// The `nginx` image: its welcome page (or the files under --root) on port 80, with
    /// nginx's headers and error pages
    #[command(after_help = "Example:\n  podnet workload nginx --port 8080")]
    Nginx(StaticSiteArgs),
    /// The `httpd` image: "It works!" (or the files under --root) on port 80, with Apache's
    /// headers and error pages
    #[command(after_help = "Example:\n  podnet workload httpd --port 8080")]
    Httpd(StaticSiteArgs),
    /// The `kennethreitz/httpbin` image: the httpbin API (/get, /headers, /ip, /user-agent,
    /// /status/CODE, /delay/N, /anything, /post, /uuid, /bytes/N …) on port 80
    #[command(after_help = "Example:\n  podnet workload httpbin --port 8080\n  \
        curl -s http://127.0.0.1:8080/get?a=1")]
    Httpbin(HttpbinArgs),
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct HelloAppArgs {
    /// The version it reports (the image tag's, as X.Y.Z)
    #[arg(long, default_value = "1.0.0")]
    pub version: String,
    /// Port to listen on, as the image reads it
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BootcampArgs {
    /// The version it reports (`v=1`: the image tag's number)
    #[arg(long, default_value = "1")]
    pub version: String,
    /// Port to listen on
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct NodeHelloArgs {
    /// Port to listen on
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StaticSiteArgs {
    /// Port to listen on
    #[arg(long, default_value_t = 80)]
    pub port: u16,
    /// Document root: files here are served when it exists in the container's filesystem
    /// (a volume mounted at the image's path) [default: the image's path]
    #[arg(long)]
    pub root: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct HttpbinArgs {
    /// Port to listen on
    #[arg(long, default_value_t = 80)]
    pub port: u16,
}

const NETEXEC_HELP: &str = "\
This is a test server: /shell runs any shell command it is given, as agnhost's does.
/healthz answers 200 only while the UDP server runs (so never with --udp-port=-1), as upstream.
SIGTERM: /readyz turns 503, then the process exits 0 after --delay-shutdown seconds.

Example:
  podnet workload netexec --http-port=8080 --udp-port=8081
  curl 'http://127.0.0.1:8080/dial?request=hostname&host=10.244.1.5&port=8081&protocol=udp'";

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct NetexecArgs {
    /// HTTP listen port
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// UDP listen port; -1 disables the UDP server
    #[arg(long, default_value_t = 8081, allow_negative_numbers = true, value_parser = port_or_off)]
    pub udp_port: i32,
    /// SCTP listen port; -1 disables (refused: this lab has no SCTP)
    #[arg(long, default_value_t = -1, allow_negative_numbers = true, value_parser = port_or_off)]
    pub sctp_port: i32,
    /// Comma-separated IP addresses the UDP server listens on (default: all)
    #[arg(long, default_value = "")]
    pub udp_listen_addresses: String,
    /// Serve every request as if it were a GET of this path and query
    #[arg(long, default_value = "")]
    pub http_override: String,
    /// Seconds to keep serving after SIGTERM before exiting
    #[arg(long, default_value_t = 0)]
    pub delay_shutdown: u64,
    /// HTTPS certificate (not supported by podnet's netexec)
    #[arg(long, default_value = "")]
    pub tls_cert_file: String,
    /// HTTPS private key (not supported by podnet's netexec)
    #[arg(long, default_value = "")]
    pub tls_private_key_file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ServeHostnameArgs {
    /// Serve raw over TCP (write the hostname, close)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub tcp: bool,
    /// Serve raw over UDP (answer every datagram with the hostname)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub udp: bool,
    /// Serve HTTP (on by default; turn off with --http=false to use --tcp or --udp)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub http: bool,
    /// Close the connection after each HTTP request
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub close: bool,
    /// Port number
    #[arg(long, default_value_t = 9376)]
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ConnectArgs {
    /// Where to connect: HOST:PORT
    pub dest: String,
    /// Maximum time before giving up, as a Go duration (1s, 500ms); 0 waits as long as the
    /// kernel does
    #[arg(long, default_value = "0", value_parser = parse_go_duration)]
    pub timeout: Duration,
    /// tcp, udp or sctp
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// The UDP payload sent to the server
    #[arg(long, default_value = "hostname")]
    pub udp_data: String,
    /// The SCTP payload sent to the server
    #[arg(long, default_value = "hostname")]
    pub sctp_data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct PauseArgs {
    /// Seconds to wait after SIGTERM/SIGINT before exiting
    #[arg(long, default_value_t = 0)]
    pub delay_shutdown: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct PortsArgs {
    /// PORT/PROTOCOL, as a containerPort is declared (80/tcp, 53/udp; protocol defaults to tcp)
    #[arg(required = true, value_parser = parse_port_spec)]
    pub ports: Vec<PortSpec>,
}

/// A declared container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

// === impl PortSpec ===

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        };
        write!(f, "{}/{proto}", self.port)
    }
}

fn parse_port_spec(s: &str) -> Result<PortSpec, String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let port = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number in 1-65535"))?;
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => return Err(format!("protocol {proto:?} is not TCP, UDP or SCTP")),
    };
    Ok(PortSpec { port, protocol })
}

fn port_or_off(s: &str) -> Result<i32, String> {
    match s.parse::<i32>() {
        Ok(-1) => Ok(-1),
        Ok(p) if (0..=65535).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a port (0-65535) or -1")),
    }
}

// === impl Workload ===

/// agnhost's command line, for clap: `agnhost SUBCOMMAND [FLAGS]`.
#[derive(Debug, Parser)]
#[command(
    name = "agnhost",
    no_binary_name = true,
    disable_help_subcommand = true
)]
struct Agnhost {
    #[command(subcommand)]
    workload: Workload,
}

impl Workload {
    /// Parses agnhost's arguments (what follows `/agnhost`): `["netexec", "--http-port=8080"]`.
    /// Sub-commands agnhost has but podnet does not provide are named in the error.
    pub fn from_agnhost_args<S: AsRef<str>>(args: &[S]) -> Result<Self> {
        let Some(sub) = args.first().map(AsRef::as_ref) else {
            return Err(Error::NoSubcommand);
        };
        if !AGNHOST_SUBCOMMANDS.contains(&sub) {
            return Err(Error::UnknownSubcommand(sub.to_owned()));
        }
        Agnhost::try_parse_from(args.iter().map(AsRef::as_ref))
            .map(|a| a.workload)
            .map_err(|e| Error::Args {
                subcommand: sub.to_owned(),
                message: first_line(&e.render().to_string()),
            })
    }

    /// The sub-command's name, as `podnet workload` and agnhost spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Netexec(_) => "netexec",
            Self::ServeHostname(_) => "serve-hostname",
            Self::Connect(_) => "connect",
            Self::Pause(_) => "pause",
            Self::Ports(_) => "ports",
            Self::HelloApp(_) => "hello-app",
            Self::KubernetesBootcamp(_) => "kubernetes-bootcamp",
            Self::NodeHello(_) => "node-hello",
            Self::Nginx(_) => "nginx",
            Self::Httpd(_) => "httpd",
            Self::Httpbin(_) => "httpbin",
        }
    }
}

fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Workload {
        Workload::from_agnhost_args(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn netexec_flags_with_equals_or_space() {
        let Workload::Netexec(a) = parse(&["netexec", "--http-port=8083", "--udp-port", "8084"])
        else {
            panic!("not netexec")
        };
        assert_eq!((a.http_port, a.udp_port, a.sctp_port), (8083, 8084, -1));
        let Workload::Netexec(a) = parse(&["netexec", "--udp-port", "-1", "--delay-shutdown=5"])
        else {
            panic!("not netexec")
        };
        assert_eq!((a.http_port, a.udp_port, a.delay_shutdown), (8080, -1, 5));
    }

    #[test]
    fn serve_hostname_booleans_as_pflag() {
        let Workload::ServeHostname(a) = parse(&["serve-hostname"]) else {
            panic!()
        };
        assert!(a.http && !a.udp && !a.tcp && a.port == 9376);
        let Workload::ServeHostname(a) =
            parse(&["serve-hostname", "--udp", "--http=false", "--port", "80"])
        else {
            panic!()
        };
        assert!(!a.http && a.udp && a.port == 80);
    }

    #[test]
    fn connect_takes_go_durations() {
        let Workload::Connect(a) = parse(&["connect", "s-x.ns.svc:80", "--timeout=1s"]) else {
            panic!()
        };
        assert_eq!(a.dest, "s-x.ns.svc:80");
        assert_eq!(a.timeout, Duration::from_secs(1));
        assert_eq!(a.protocol, "tcp");
        let Workload::Connect(a) =
            parse(&["connect", "--timeout", "500ms", "--protocol=udp", "h:53"])
        else {
            panic!()
        };
        assert_eq!(
            (a.timeout, a.protocol.as_str()),
            (Duration::from_millis(500), "udp")
        );
    }

    #[test]
    fn unknown_sub_commands_and_bad_flags_are_named() {
        let e = Workload::from_agnhost_args(&["liveness"]).unwrap_err();
        assert!(e.to_string().contains("\"liveness\""), "{e}");
        assert!(matches!(
            Workload::from_agnhost_args::<&str>(&[]),
            Err(Error::NoSubcommand)
        ));
        let e = Workload::from_agnhost_args(&["netexec", "--http-port=x"]).unwrap_err();
        assert!(
            e.to_string().starts_with("agnhost netexec: ") && e.to_string().contains("--http-port"),
            "{e}"
        );
        let e = Workload::from_agnhost_args(&["netexec", "--no-such-flag"]).unwrap_err();
        assert!(e.to_string().contains("--no-such-flag"), "{e}");
        // podnet's own `ports` is not an agnhost sub-command.
        assert!(Workload::from_agnhost_args(&["ports", "80"]).is_err());
    }

    #[test]
    fn port_specs() {
        assert_eq!(
            parse_port_spec("53/UDP").unwrap(),
            PortSpec {
                port: 53,
                protocol: Protocol::Udp
            }
        );
        assert_eq!(parse_port_spec("80").unwrap().to_string(), "80/tcp");
        assert!(parse_port_spec("80/icmp").is_err());
        assert!(parse_port_spec("x/tcp").is_err());
    }
}
