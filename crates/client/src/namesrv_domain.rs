//! Name-server list lookup over HTTP (`set_namesrv_domain`, spec 5.13).
//!
//! The URL answers a text body whose first line is `"host:port;host2:port2"`. The lookup is a
//! minimal HTTP/1.0 GET over a tokio `TcpStream` (HTTP/1.0 so that the server sends the body
//! plainly, without chunked encoding, and closes the connection at its end); plain `http://`
//! only: `https://` is refused with a message saying so.
//!
//! What must stay true: a lookup is bounded in time (`timeout`) and size
//! ([`MAX_RESPONSE_BYTES`]); any failure leaves the caller's current list untouched (the
//! caller decides), and a non-200 status, an empty body or a body without an address is an
//! error, never an empty list.

use crate::error::{ClientError, Result};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Larger answers are refused: a name-server list is a few hundred bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// An `http://host[:port]/path` URL, split for the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses `http://host[:port][/path]`; a URL without a scheme is taken as `http://`.
    pub fn parse(url: &str) -> Result<HttpUrl> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        let rest = if lower.starts_with("https://") {
            return Err(ClientError::IllegalArgument(format!(
                "the name-server domain {url:?} uses https, which is not supported: give an \
                 http:// URL, or the addresses themselves with set_namesrv_addr"
            )));
        } else if lower.starts_with("http://") {
            &url["http://".len()..]
        } else if lower.contains("://") {
            return Err(ClientError::IllegalArgument(format!(
                "the name-server domain {url:?} is not an http:// URL"
            )));
        } else {
            url
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(ClientError::IllegalArgument(format!(
                "the name-server domain {url:?} contains user information, which is not supported"
            )));
        }
        let (host, port) = match authority.rsplit_once(':') {
            // A bracketed IPv6 literal without a port ends with ']'.
            Some((h, p)) if !p.contains(']') => {
                let port = p.parse::<u16>().map_err(|_| {
                    ClientError::IllegalArgument(format!(
                        "the name-server domain {url:?} has an invalid port {p:?}"
                    ))
                })?;
                (h, port)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ClientError::IllegalArgument(format!(
                "the name-server domain {url:?} has no host"
            )));
        }
        Ok(HttpUrl {
            host: host.to_string(),
            port,
            path,
        })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.host_header(), self.path)
    }
}

/// GETs `url` and returns the name servers of the first line of the body.
pub async fn fetch_name_servers(url: &HttpUrl, timeout: Duration) -> Result<Vec<String>> {
    let body = tokio::time::timeout(timeout, http_get(url))
        .await
        .map_err(|_| ClientError::Timeout {
            addr: url.to_string(),
            millis: timeout.as_millis() as u64,
        })??;
    let text = String::from_utf8_lossy(&body);
    let first_line = text.trim().lines().next().unwrap_or("").trim();
    let servers = crate::config::ClientConfig::parse_name_servers(first_line);
    if servers.is_empty() {
        return Err(ClientError::Protocol(format!(
            "{url} answered no name-server address (body {:?})",
            truncate(&text, 200)
        )));
    }
    Ok(servers)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

async fn http_get(url: &HttpUrl) -> Result<Vec<u8>> {
    let shown = url.to_string();
    let connect_err = |e: std::io::Error| ClientError::Connect {
        addr: shown.clone(),
        cause: e.to_string(),
    };
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(connect_err)?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nAccept: text/plain, */*\r\nUser-Agent: rocketmq-rust-client\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(connect_err)?;
    let mut response = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(connect_err)?;
        if n == 0 {
            break;
        }
        if response.len() + n > MAX_RESPONSE_BYTES {
            return Err(ClientError::Protocol(format!(
                "{shown} answered more than {MAX_RESPONSE_BYTES} bytes; not a name-server list"
            )));
        }
        response.extend_from_slice(&chunk[..n]);
    }
    let header_end = find(&response, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| find(&response, b"\n\n").map(|i| (i, i + 2)))
        .ok_or_else(|| {
            ClientError::Protocol(format!("{shown} sent no complete HTTP response header"))
        })?;
    let head = String::from_utf8_lossy(&response[..header_end.0]);
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    if !version.starts_with("HTTP/") || status.is_none() {
        return Err(ClientError::Protocol(format!(
            "{shown} did not answer HTTP (status line {:?})",
            truncate(status_line, 100)
        )));
    }
    if status != Some(200) {
        return Err(ClientError::Remote {
            addr: shown,
            code: i32::from(status.unwrap_or(0)),
            remark: format!("HTTP status line {:?}", truncate(status_line, 100)),
        });
    }
    Ok(response[header_end.1..].to_vec())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_urls() {
        let u = HttpUrl::parse("http://ns.example:8080/rocketmq/nsaddr").unwrap();
        assert_eq!(
            u,
            HttpUrl {
                host: "ns.example".into(),
                port: 8080,
                path: "/rocketmq/nsaddr".into()
            }
        );
        assert_eq!(u.to_string(), "http://ns.example:8080/rocketmq/nsaddr");
        let u = HttpUrl::parse("HTTP://ns.example").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("ns.example:81/a?nofix=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("ns.example", 81, "/a?nofix=1")
        );
        let u = HttpUrl::parse("http://[::1]:9000/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert_eq!(u.to_string(), "http://[::1]:9000/x");
    }

    #[test]
    fn refuses_https_and_garbage_with_clear_messages() {
        let e = HttpUrl::parse("https://ns.example/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("https") && e.contains("not supported"), "{e}");
        assert!(HttpUrl::parse("ftp://x/y")
            .unwrap_err()
            .to_string()
            .contains("not an http:// URL"));
        assert!(HttpUrl::parse("http://x:notaport/")
            .unwrap_err()
            .to_string()
            .contains("invalid port"));
        assert!(HttpUrl::parse("http:///path")
            .unwrap_err()
            .to_string()
            .contains("no host"));
    }
}
