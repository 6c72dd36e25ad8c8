//! The two socket calls of the blocking request path ([`crate::blocking`]) that `std` does not
//! offer: a read into a buffer's uninitialised spare capacity, and a zero-wait readability
//! check. On Unix they are single `read(2)` and `poll(2)` calls; elsewhere (Windows) they
//! are built from `std` alone with the same results, at the cost of zeroing the spare
//! capacity before a read and of two mode switches around a peek.
//!
//! What must stay true: both functions mean the same on every platform (their documented
//! results), and the client calls no other operating-system function directly.

use bytes::BytesMut;
use std::net::TcpStream;

/// One read into the spare capacity of `buf`; the bytes read become part of `buf`. The
/// socket's receive timeout applies (`WouldBlock`/`TimedOut` when it expires).
pub fn read_into_spare(stream: &TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let spare = buf.spare_capacity_mut();
        // SAFETY: read(2) writes at most `spare.len()` bytes into memory `buf` owns (raw
        // pointer, no reference to uninitialised bytes is made); the descriptor stays open
        // while `stream` is borrowed.
        let n = unsafe { libc::read(stream.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: read(2) initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        Ok(n)
    }
    #[cfg(not(unix))]
    {
        use std::io::Read;
        let filled = buf.len();
        buf.resize(buf.capacity(), 0);
        let read = (&*stream).read(&mut buf[filled..]);
        buf.truncate(filled + *read.as_ref().unwrap_or(&0));
        read
    }
}

/// Whether `stream` has something to read (or hung up) right now, without waiting.
pub fn readable_now(stream: &TcpStream) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd on a socket owned by `stream`; a zero timeout never
        // blocks.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n != 0
    }
    #[cfg(not(unix))]
    {
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let peeked = stream.peek(&mut [0u8; 1]);
        // A socket that cannot go back to blocking mode is as unusable as a hung-up one.
        let restored = stream.set_nonblocking(false).is_ok();
        !restored || !matches!(peeked, Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// Not readable before the peer writes; readable after; the read appends exactly what
    /// was written behind what the buffer held; a hang-up makes it readable again.
    #[test]
    fn readable_and_read_follow_the_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        assert!(!readable_now(&client));
        server.write_all(b"hello").unwrap();
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b">");
        let mut got = 0;
        for _ in 0..100 {
            got += read_into_spare(&client, &mut buf).unwrap();
            if got == 5 {
                break;
            }
        }
        assert_eq!(&buf[..], b">hello");
        drop(server);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !readable_now(&client) {
            assert!(std::time::Instant::now() < deadline, "hang-up never seen");
            std::thread::yield_now();
        }
        assert_eq!(read_into_spare(&client, &mut buf).unwrap(), 0);
    }
}
