//! TLS: termination with SNI-selected certificates and ALPN, rotation (and refusal of a broken
//! file), and HTTPS toward origins verified against `[upstream_tls] ca_file`, with mTLS.

mod ops_support;
mod support;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ops_support::{start_text, write_atomic};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::{ProxyBuilder, TestClient, TestOrigin, bounded, eventually, full, metric, tmp_path};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector, client::TlsStream};

const WAIT: Duration = Duration::from_secs(5);

/// A test certificate authority.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key.
struct Leaf {
    der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// A leaf for these names (IP literals become IP SANs).
    fn leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        Leaf {
            der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn roots(&self) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        Arc::new(roots)
    }

    fn write(&self) -> PathBuf {
        let path = tmp_path("ca.pem");
        std::fs::write(&path, self.issuer.pem()).unwrap();
        path
    }
}

impl Leaf {
    /// Writes cert and key into `dir` as `<name>.pem` / `<name>.key`.
    fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        write_atomic(&cert, &self.cert_pem);
        write_atomic(&key, &self.key_pem);
        (cert, key)
    }

    fn certified(
        &self,
    ) -> (
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        use rustls::pki_types::pem::PemObject;
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap();
        (vec![self.der.clone()], key)
    }
}

/// TLS handshake with `sni`, offering `alpn`.
async fn handshake(addr: SocketAddr, ca: &Ca, sni: &str, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut config = rustls::ClientConfig::builder_with_provider(meridian::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(sni.to_string()).unwrap(), tcp)
        .await
        .unwrap_or_else(|e| panic!("handshake with {sni}: {e}"))
}

fn leaf_of(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// A config whose main listener terminates TLS with these (cert, key) files.
fn tls_builder(origin: &TestOrigin, certs: &[(PathBuf, PathBuf)]) -> ProxyBuilder {
    let list: Vec<String> = certs
        .iter()
        .map(|(c, k)| format!("{{ cert = {:?}, key = {:?} }}", c.display(), k.display()))
        .collect();
    ProxyBuilder::new()
        .origin(origin)
        .set("server.tls.certificates", &format!("[{}]", list.join(", ")))
        .set("server.tls.reload_interval", "\"100ms\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn termination_picks_certificate_by_sni_and_negotiates_alpn() {
    bounded(async {
        let ca = Ca::new();
        let (a, b) = (ca.leaf(&["a.test"]), ca.leaf(&["b.test"]));
        let dir = tmp_path("certs").parent().unwrap().to_path_buf();
        let files = [a.write(&dir, "a"), b.write(&dir, "b")];
        let origin = TestOrigin::new("local").start().await;
        let server = start_text(&tls_builder(&origin, &files).render()).await;
        let addr = server.addr();

        let to_a = handshake(addr, &ca, "a.test", &[b"h2", b"http/1.1"]).await;
        assert_eq!(leaf_of(&to_a), a.der, "SNI a.test gets a's certificate");
        assert_eq!(to_a.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let to_b = handshake(addr, &ca, "b.test", &[b"http/1.1"]).await;
        assert_eq!(leaf_of(&to_b), b.der, "SNI b.test gets b's certificate");
        assert_eq!(to_b.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let other = handshake(addr, &ca, "a.test", &[]).await;
        assert_eq!(other.get_ref().1.alpn_protocol(), None);

        // A request over TLS (HTTP/1.1) is proxied and marked https for the origin.
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(to_b))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get("/over-tls")
            .header("host", "b.test")
            .body(full(""))
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let seen = origin.seen();
        let last = seen.last().expect("the origin saw the request");
        assert_eq!(last.path, "/over-tls");
        assert_eq!(last.headers["x-forwarded-proto"], "https");

        // And over h2 negotiated by ALPN.
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(to_a))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = Request::get("https://a.test/over-h2")
            .body(full(""))
            .unwrap();
        assert_eq!(send.send_request(req).await.unwrap().status(), 200);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_certificate_is_picked_up_and_a_broken_one_refused() {
    bounded(async {
        let ca = Ca::new();
        let first = ca.leaf(&["a.test"]);
        let dir = tmp_path("certs").parent().unwrap().to_path_buf();
        let files = first.write(&dir, "a");
        let origin = TestOrigin::new("local").start().await;
        let server = start_text(&tls_builder(&origin, std::slice::from_ref(&files)).render()).await;
        let addr = server.addr();
        assert_eq!(
            leaf_of(&handshake(addr, &ca, "a.test", &[]).await),
            first.der
        );

        let second = ca.leaf(&["a.test"]);
        second.write(&dir, "a");
        eventually(
            WAIT,
            "new handshakes see the rotated certificate",
            || async { leaf_of(&handshake(addr, &ca, "a.test", &[]).await) == second.der },
        )
        .await;

        let failed = || metric("meridian_tls_reloads_total", &[("result", "failed")]);
        let failed_before = failed();
        write_atomic(&files.0, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n");
        eventually(WAIT, "the broken file is refused", || async {
            failed() > failed_before
        })
        .await;
        assert_eq!(
            leaf_of(&handshake(addr, &ca, "a.test", &[]).await),
            second.der,
            "the last good certificate keeps serving"
        );
        server.stop().await;
    })
    .await;
}

/// An HTTPS origin on 127.0.0.1 with a certificate for that IP; requires a client certificate
/// signed by `client_ca` when given.
async fn https_origin(
    ca: &Ca,
    client_ca: Option<&Ca>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let (chain, key) = ca.leaf(&["127.0.0.1"]).certified();
    let builder = rustls::ServerConfig::builder_with_provider(meridian::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(client_ca) => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(
                client_ca.roots(),
                meridian::tls::provider(),
            )
            .build()
            .unwrap(),
        ),
    };
    let mut config = builder.with_single_cert(chain, key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, std::convert::Infallible>(Response::new(full(Bytes::from_static(
                        b"tls-origin\n",
                    ))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, task)
}

/// A config with one region on `https://<addr>` and `[upstream_tls]` from `extra`.
fn https_config(addr: SocketAddr, extra: &[(&str, String)]) -> String {
    let mut builder = ProxyBuilder::new().region("tls", &[addr], &[]);
    for (k, v) in extra {
        builder = builder.set(k, &format!("{v:?}"));
    }
    let plain = format!("endpoints = [\"{addr}\"]");
    builder
        .render()
        .replace(&plain, &format!("endpoints = [\"https://{addr}\"]"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_https_verified_against_ca_file_with_mtls() {
    bounded(async {
        let ca = Ca::new();
        let ca_file = ca.write().display().to_string();
        let client = TestClient::new();

        let (plain_origin, _task) = https_origin(&ca, None).await;
        let server = start_text(&https_config(
            plain_origin,
            &[("upstream_tls.ca_file", ca_file.clone())],
        ))
        .await;
        let answer = client.get(&format!("http://{}/", server.addr())).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.text(), "tls-origin\n");
        server.stop().await;

        let client_ca = Ca::new();
        let client_leaf = client_ca.leaf(&["meridian.client"]);
        let dir = tmp_path("client").parent().unwrap().to_path_buf();
        let (cert, key) = client_leaf.write(&dir, "client");
        let (mtls_origin, _task) = https_origin(&ca, Some(&client_ca)).await;
        let with_cert = start_text(&https_config(
            mtls_origin,
            &[
                ("upstream_tls.ca_file", ca_file.clone()),
                ("upstream_tls.client_cert", cert.display().to_string()),
                ("upstream_tls.client_key", key.display().to_string()),
            ],
        ))
        .await;
        let answer = client.get(&format!("http://{}/", with_cert.addr())).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        with_cert.stop().await;

        let without_cert = start_text(&https_config(
            mtls_origin,
            &[("upstream_tls.ca_file", ca_file)],
        ))
        .await;
        let answer = client
            .get(&format!("http://{}/", without_cert.addr()))
            .await;
        assert_eq!(answer.status, 502, "{}", answer.text());
        without_cert.stop().await;
    })
    .await;
}
