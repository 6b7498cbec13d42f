//! The `nginx` and `httpd` images as a user meets them: a static site on port 80 from the
//! image's document root, or the image's own start page when nothing is mounted there; the
//! server's `Server` header, error pages and access log lines (on stdout, as the images send
//! them to `kubectl logs`). Only GET and HEAD are served. Files are read from the container's
//! filesystem, so a volume mounted at the document root (the tutorials' emptyDir shared
//! with a writer container) is what it serves.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue, SERVER};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use crate::args::StaticSiteArgs;
use crate::http::{self, Body};
use crate::{Result, go, sys};

/// Which server's manners to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Nginx,
    Httpd,
}

// === impl Flavor ===

impl Flavor {
    fn workload(self) -> &'static str {
        match self {
            Self::Nginx => "nginx",
            Self::Httpd => "httpd",
        }
    }

    /// The document root of the image.
    pub fn default_root(self) -> &'static str {
        match self {
            Self::Nginx => "/usr/share/nginx/html",
            Self::Httpd => "/usr/local/apache2/htdocs",
        }
    }

    fn server(self) -> &'static str {
        match self {
            Self::Nginx => "nginx/1.27.3",
            Self::Httpd => "Apache/2.4.62 (Unix)",
        }
    }

    /// The page the image ships at its document root's index.
    fn start_page(self) -> &'static str {
        match self {
            Self::Nginx => NGINX_START_PAGE,
            Self::Httpd => "<html><body><h1>It works!</h1></body></html>\n",
        }
    }

    fn error_page(self, status: StatusCode) -> String {
        let code = status.as_u16();
        let reason = status.canonical_reason().unwrap_or("");
        match self {
            Self::Nginx => format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
                 <center><h1>{code} {reason}</h1></center>\r\n<hr><center>{}</center>\r\n\
                 </body>\r\n</html>\r\n",
                self.server()
            ),
            Self::Httpd => format!(
                "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n\
                 <title>{code} {reason}</title>\n</head><body>\n<h1>{reason}</h1>\n\
                 <p>The requested URL was not found on this server.</p>\n</body></html>\n"
            ),
        }
    }
}

const NGINX_START_PAGE: &str = "\
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>The nginx image's start page, served by podnet's lab emulation of the image.
Mount a volume at /usr/share/nginx/html to serve your own files.</p>
</body>
</html>
";

pub async fn run(flavor: Flavor, args: StaticSiteArgs) -> Result<i32> {
    let listener = sys::listen_tcp_any(flavor.workload(), args.port).await?;
    let root = args
        .root
        .unwrap_or_else(|| PathBuf::from(flavor.default_root()));
    let handler = http::handler(move |peer, req| {
        let root = root.clone();
        async move {
            let resp = answer(flavor, &root, &req).await;
            access_log(flavor, &go::addr_string(peer), &req, &resp);
            Ok(resp)
        }
    });
    // Like the images' processes, a signal ends it.
    let (_stops, stop_rx) = mpsc::unbounded_channel();
    http::serve(vec![listener], handler, stop_rx).await
}

async fn answer<B>(flavor: Flavor, root: &Path, req: &Request<B>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let status = match flavor {
            Flavor::Nginx => StatusCode::METHOD_NOT_ALLOWED,
            Flavor::Httpd => StatusCode::NOT_IMPLEMENTED,
        };
        return page(
            flavor,
            status,
            flavor.error_page(status).into(),
            "text/html",
            head,
        );
    }
    match lookup(flavor, root, req.uri().path()).await {
        Some((body, mime)) => page(flavor, StatusCode::OK, body, mime, head),
        None => page(
            flavor,
            StatusCode::NOT_FOUND,
            flavor.error_page(StatusCode::NOT_FOUND).into(),
            "text/html",
            head,
        ),
    }
}

/// The file a path names under `root` (a directory's `index.html`), or the start page for
/// the index when `root` is not in this filesystem.
async fn lookup(flavor: Flavor, root: &Path, path: &str) -> Option<(Bytes, &'static str)> {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    if !root.is_dir() {
        return matches!(path, "/" | "/index.html").then(|| {
            (
                Bytes::from_static(flavor.start_page().as_bytes()),
                "text/html",
            )
        });
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file.push("index.html");
    }
    let body = tokio::fs::read(&file).await.ok()?;
    Some((body.into(), mime_of(&file)))
}

fn mime_of(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "application/javascript",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

fn page(
    flavor: Flavor,
    status: StatusCode,
    body: Bytes,
    mime: &'static str,
    head: bool,
) -> Response<Body> {
    let len = body.len();
    let mut resp = Response::new(Full::new(if head { Bytes::new() } else { body }));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static(flavor.server()));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    if head {
        headers.insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if status == StatusCode::OK {
        headers.insert(
            hyper::header::ACCEPT_RANGES,
            HeaderValue::from_static("bytes"),
        );
    }
    resp
}

/// The combined log format both images write to stdout.
fn access_log<B>(flavor: Flavor, client: &str, req: &Request<B>, resp: &Response<Body>) {
    use hyper::body::Body as _;
    use std::io::Write;
    let ip = client.rsplit_once(':').map_or(client, |(ip, _)| ip);
    let now = jiff::Zoned::now().strftime("%d/%b/%Y:%H:%M:%S %z");
    let size = resp.body().size_hint().exact().unwrap_or(0);
    let request = format!("{} {} {:?}", req.method(), req.uri(), req.version());
    let agent = req
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let status = resp.status().as_u16();
    let line = match flavor {
        Flavor::Nginx => {
            format!("{ip} - - [{now}] \"{request}\" {status} {size} \"-\" \"{agent}\" \"-\"")
        }
        Flavor::Httpd => format!("{ip} - - [{now}] \"{request}\" {status} {size}"),
    };
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).unwrap()
    }

    async fn body(resp: Response<Body>) -> String {
        use http_body_util::BodyExt;
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn without_a_document_root_the_start_page_and_404s_in_each_servers_shape() {
        let none = Path::new("/nonexistent-podnet-docroot");
        let resp = answer(Flavor::Nginx, none, &get("/")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[SERVER], "nginx/1.27.3");
        assert!(
            body(resp)
                .await
                .contains("<title>Welcome to nginx!</title>")
        );
        let resp = answer(Flavor::Nginx, none, &get("/missing")).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(
            body(resp)
                .await
                .contains("<center><h1>404 Not Found</h1></center>")
        );
        let resp = answer(Flavor::Httpd, none, &get("/")).await;
        assert_eq!(resp.headers()[SERVER], "Apache/2.4.62 (Unix)");
        assert_eq!(
            body(resp).await,
            "<html><body><h1>It works!</h1></body></html>\n"
        );
        let resp = answer(Flavor::Httpd, none, &get("/x")).await;
        assert!(body(resp).await.contains("<h1>Not Found</h1>"));
    }

    #[tokio::test]
    async fn a_mounted_document_root_is_served_and_cannot_be_escaped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "mine\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.css"), "b{}").unwrap();
        let resp = answer(Flavor::Nginx, dir.path(), &get("/")).await;
        assert_eq!(body(resp).await, "mine\n");
        let resp = answer(Flavor::Nginx, dir.path(), &get("/sub/a.css")).await;
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/css");
        let resp = answer(Flavor::Nginx, dir.path(), &get("/../etc/passwd")).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let post = Request::post("/").body(()).unwrap();
        let resp = answer(Flavor::Nginx, dir.path(), &post).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
