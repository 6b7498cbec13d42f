//! A server on 127.0.0.1 for tests, restartable on the same port and state directory.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub config: podnet_apiserver::Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(podnet_apiserver::Config::default()).await
    }

    pub async fn start_with(config: podnet_apiserver::Config) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_at("127.0.0.1:0".parse().unwrap(), &dir, config).await;
        s._tmp = Some(tmp);
        s
    }

    pub async fn start_at(addr: SocketAddr, dir: &Path, config: podnet_apiserver::Config) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = dir.to_path_buf();
        let served = config.clone();
        let task = tokio::spawn(async move {
            podnet_apiserver::serve_with(listener, &state, &served, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            addr,
            dir: dir.to_path_buf(),
            config,
            stop: Some(tx),
            task: Some(task),
            _tmp: None,
        }
    }

    /// Stops the server and starts it again on the same port and state directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        let again = Self::start_at(self.addr, &self.dir, self.config.clone()).await;
        self.stop = again.stop;
        self.task = again.task;
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    /// One plain HTTP/1.1 request, for what kube-rs does not expose (Status causes).
    pub async fn raw(&self, method: &str, path: &str, ct: &str, body: &str) -> (u16, Value) {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let code = head[9..12].parse().unwrap();
        (code, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}
