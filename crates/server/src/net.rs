//! Socket helpers of the composition root: binding listeners and resolving the addresses a
//! broker advertises and registers with.
//!
//! What must stay true: when a name resolves to several addresses an IPv4 one is preferred
//! (the address ends up in stored messages, and cpp 1.2.3 can only read IPv4 hosts);
//! listeners reuse their address, so a restarted broker takes its port back at once.

use std::io;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The address to give out for a bound one: an unspecified address becomes 127.0.0.1.
pub(crate) fn advertised(bound: SocketAddr) -> SocketAddr {
    if bound.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], bound.port()))
    } else {
        bound
    }
}

/// Resolves the `host:port` of the name server a broker-only instance registers with.
pub(crate) async fn resolve_name_server(addr: &str) -> io::Result<SocketAddr> {
    let invalid = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("name server address {addr:?}: {why}"),
        )
    };
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr.trim())
        .await
        .map_err(|e| invalid(format!("{e} (expected host:port)")))?
        .collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs
        .first()
        .copied()
        .ok_or_else(|| invalid("the host has no address".into()))
}

/// Binds `host:port`, preferring an IPv4 address when the name resolves to several: the
/// address ends up in stored messages, and cpp 1.2.3 can only read IPv4 hosts.
pub(crate) async fn bind(host: &str, port: u16, what: &str) -> io::Result<TcpListener> {
    let context = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot listen for the {what} on {host}:{port}: {e}"),
        )
    };
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(context)?
        .collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address");
    for addr in addrs {
        match listen(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(context(last))
}

/// Pending connections the kernel queues per listener. The default (128) made a burst of
/// 1000 clients wait for SYN retransmits; the Java broker uses 1024 too.
const LISTEN_BACKLOG: u32 = 1024;

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As TcpListener::bind does: a restarted broker can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The broker address clients are given (and stored messages carry): `advertised_host` with
/// the bound port when set, else the bound address as [`advertised`] gives it out.
pub(crate) async fn store_host(
    advertised_host: Option<&str>,
    bound: SocketAddr,
) -> io::Result<SocketAddr> {
    let Some(host) = advertised_host else {
        return Ok(advertised(bound));
    };
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, bound.port()))
        .await
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot resolve the advertised host {host}: {e}"),
            )
        })?
        .collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs.first().copied().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the advertised host {host} has no address"),
        )
    })
}
