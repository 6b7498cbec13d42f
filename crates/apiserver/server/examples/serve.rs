//! Runs the API server by hand until Ctrl-C:
//! `cargo run -p podnet-apiserver --example serve -- STATE_DIR [ADDR]` (ADDR defaults to
//! 127.0.0.1:6443), then point kubectl at `http://ADDR`.

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: serve STATE_DIR [ADDR]");
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:6443".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!("serving http://{addr} from {dir}");
    podnet_apiserver::serve(listener, std::path::Path::new(&dir), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .expect("serve");
}
