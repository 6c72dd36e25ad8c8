//! The 5.x client with `tls: true`, through a TLS terminator (rustls, a certificate for
//! 127.0.0.1 issued by a CA made here) in front of the bundled broker's plain gRPC endpoint.
//! The CA is trusted as a user trusts a private CA, through `SSL_CERT_FILE` (this test binary
//! sets it once, before any client). Routes name the address the client asked with, so every
//! call stays on the TLS address.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rocketmq_client::v5::{ClientOptions, Credentials, OutgoingMessage, Producer};
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

struct TestPki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: PrivateKeyDer<'static>,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "rocketmq test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server_cert: server.der().clone(),
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    }
}

/// Accepts TLS (ALPN h2) on an ephemeral loopback port and forwards each connection's bytes
/// to `backend`; returns the port's address.
async fn tls_terminator(pki: &TestPki, backend: SocketAddr) -> SocketAddr {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

fn options(endpoint: SocketAddr, tls: bool) -> ClientOptions {
    ClientOptions {
        endpoints: endpoint.to_string(),
        credentials: Credentials::default(),
        namespace: String::new(),
        request_timeout: Duration::from_secs(5),
        tls,
    }
}

#[test]
fn a_tls_client_sends_through_a_tls_endpoint_and_refuses_an_untrusted_or_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        grpc_port: Some(0),
        store_dir: dir.path().to_path_buf(),
        commit_log_segment_size: 8 << 20,
        ..ServerConfig::default()
    })
    .expect("cluster starts");
    let plain = cluster.grpc_addr().expect("gRPC endpoint");
    let pki = test_pki();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let tls_endpoint = tls_terminator(&pki, plain).await;
        let message = OutgoingMessage {
            topic: "TlsTopic".into(),
            body: b"over TLS".to_vec(),
            ..OutgoingMessage::default()
        };

        // Without the CA the certificate is not trusted: startup fails, saying why.
        let untrusted =
            Producer::new(options(tls_endpoint, true), vec!["TlsTopic".into()], None).unwrap();
        let refused = untrusted
            .start()
            .await
            .expect_err("an untrusted certificate");
        assert!(
            format!("{refused:?}")
                .to_lowercase()
                .contains("certificate"),
            "{refused:?}"
        );

        // The one process-wide setting a user would make to trust a private CA.
        std::env::set_var("SSL_CERT_FILE", &ca_file);
        let producer =
            Producer::new(options(tls_endpoint, true), vec!["TlsTopic".into()], None).unwrap();
        producer.start().await.expect("starts over TLS");
        let receipt = producer.send(&message).await.expect("sent over TLS");
        assert_eq!(receipt.topic, "TlsTopic");
        assert!(
            receipt.endpoint.contains(&tls_endpoint.port().to_string()),
            "{receipt:?}"
        );
        producer.shutdown().await;

        // TLS to a plain endpoint fails instead of hanging.
        let mismatched =
            Producer::new(options(plain, true), vec!["TlsTopic".into()], None).unwrap();
        assert!(mismatched.start().await.is_err());
    });
    cluster.shutdown();
}
