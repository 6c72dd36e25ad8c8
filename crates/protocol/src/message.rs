//! The stored / pulled message record (spec 4.8): the exact bytes of one commit-log record,
//! which are also the bytes a pull response carries.
//!
//! What must stay true:
//! - [`decode_stored`] and [`view_record`] never panic, whatever the input;
//! - [`encode_stored`] writes V1 magic unless the topic is longer than 127 bytes (V2), IPv4
//!   host fields (8 bytes) whenever the address is IPv4 or IPv4-mapped IPv6, and 20-byte host
//!   fields with the matching sys-flag bit otherwise;
//! - the fixed offsets below match the layout, so the store can patch the queue offset,
//!   physical offset and store timestamp in place after encoding.

use crate::sysflag::{BORNHOST_V6_FLAG, STOREHOSTADDRESS_V6_FLAG};
use bytes::Bytes;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// MAGICCODE of a record with a 1-byte topic length.
pub const MAGIC_CODE_V1: i32 = 0xDAA320A7_u32 as i32;
/// MAGICCODE of a record with a 2-byte topic length.
pub const MAGIC_CODE_V2: i32 = 0xDAA320AB_u32 as i32;
/// MAGICCODE of the end-of-segment filler.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD43194_u32 as i32;
/// Size of the filler header (TOTALSIZE + MAGICCODE); a segment always keeps this much spare
/// room so the filler fits.
pub const BLANK_RECORD_MIN_LEN: usize = 8;
/// Topics up to this many bytes use V1 (1-byte length).
pub const MAX_V1_TOPIC_LEN: usize = 127;

pub const POS_TOTAL_SIZE: usize = 0;
pub const POS_MAGIC: usize = 4;
pub const POS_BODY_CRC: usize = 8;
pub const POS_QUEUE_ID: usize = 12;
pub const POS_FLAG: usize = 16;
pub const POS_QUEUE_OFFSET: usize = 20;
pub const POS_PHYSICAL_OFFSET: usize = 28;
pub const POS_SYS_FLAG: usize = 36;
pub const POS_BORN_TIMESTAMP: usize = 40;
pub const POS_BORN_HOST: usize = 48;

/// Length of a host field: 4-byte IPv4 + 4-byte port, or 16-byte IPv6 + 4-byte port.
pub const HOST_LEN_V4: usize = 8;
pub const HOST_LEN_V6: usize = 20;

/// Smallest possible record: IPv4 hosts, V1, empty body, topic and properties.
pub const MIN_RECORD_LEN: usize = 91;

/// Position of STORETIMESTAMP for a record with this sys flag.
pub fn pos_store_timestamp(sys_flag: i32) -> usize {
    POS_BORN_HOST + born_host_len(sys_flag)
}

/// Position of the body length field for a record with this sys flag.
pub fn pos_body_len(sys_flag: i32) -> usize {
    pos_store_timestamp(sys_flag) + 8 + store_host_len(sys_flag) + 4 + 8
}

fn born_host_len(sys_flag: i32) -> usize {
    if sys_flag & BORNHOST_V6_FLAG != 0 {
        HOST_LEN_V6
    } else {
        HOST_LEN_V4
    }
}

fn store_host_len(sys_flag: i32) -> usize {
    if sys_flag & STOREHOSTADDRESS_V6_FLAG != 0 {
        HOST_LEN_V6
    } else {
        HOST_LEN_V4
    }
}

/// `CRC32(body) & 0x7FFFFFFF`, the BODYCRC field.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// One stored record, all 17 fields of spec 4.8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub total_size: i32,
    pub magic_code: i32,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: Bytes,
    pub topic: String,
    pub properties: String,
}

impl StoredMessage {
    /// Sets the fields [`encode_stored`] derives (size, magic, body CRC, host V6 flags, hosts
    /// mapped to IPv4 where possible), so that `decode(encode(m)) == m` after this.
    pub fn normalize(&mut self) {
        self.born_host = canonical_host(self.born_host);
        self.store_host = canonical_host(self.store_host);
        self.sys_flag = host_sys_flags(self.sys_flag, self.born_host, self.store_host);
        self.magic_code = magic_for_topic(&self.topic);
        self.body_crc = body_crc(&self.body);
        self.total_size = record_len(
            self.sys_flag,
            self.body.len(),
            &self.topic,
            self.properties.len(),
        ) as i32;
    }

    /// The record's parts as borrowed encoder input.
    pub fn parts(&self) -> RecordParts<'_> {
        RecordParts {
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset: self.queue_offset,
            physical_offset: self.physical_offset,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: self.store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: &self.body,
            topic: &self.topic,
            properties: &self.properties,
        }
    }
}

/// Borrowed encoder input: everything the record holds except the derived fields
/// (TOTALSIZE, MAGICCODE, BODYCRC), which the encoder computes.
#[derive(Clone, Copy, Debug)]
pub struct RecordParts<'a> {
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties: &'a str,
}

/// Why a record cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageEncodeError {
    TopicTooLong(usize),
    PropertiesTooLong(usize),
    BodyTooLarge(usize),
}

impl fmt::Display for MessageEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageEncodeError::TopicTooLong(n) => write!(f, "topic too long: {n} bytes"),
            MessageEncodeError::PropertiesTooLong(n) => {
                write!(f, "properties too long: {n} bytes (max 32767)")
            }
            MessageEncodeError::BodyTooLarge(n) => write!(f, "body too large: {n} bytes"),
        }
    }
}

impl std::error::Error for MessageEncodeError {}

/// Why bytes are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageDecodeError {
    /// Fewer bytes than the record claims (or than a header needs).
    Truncated {
        needed: usize,
        available: usize,
    },
    /// TOTALSIZE is below the minimum or negative.
    BadTotalSize(i32),
    BadMagic(i32),
    /// The end-of-segment filler, not a message.
    Blank {
        size: i32,
    },
    /// Field lengths do not add up to TOTALSIZE.
    Inconsistent(&'static str),
    BodyCrcMismatch {
        stored: i32,
        computed: i32,
    },
    BadUtf8(&'static str),
}

impl fmt::Display for MessageDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageDecodeError::Truncated { needed, available } => {
                write!(f, "truncated record: need {needed} bytes, have {available}")
            }
            MessageDecodeError::BadTotalSize(s) => write!(f, "bad total size {s}"),
            MessageDecodeError::BadMagic(m) => write!(f, "bad magic code {m:#x}"),
            MessageDecodeError::Blank { size } => write!(f, "blank filler of {size} bytes"),
            MessageDecodeError::Inconsistent(w) => write!(f, "inconsistent record: {w}"),
            MessageDecodeError::BodyCrcMismatch { stored, computed } => {
                write!(f, "body crc mismatch: stored {stored}, computed {computed}")
            }
            MessageDecodeError::BadUtf8(w) => write!(f, "{w} is not UTF-8"),
        }
    }
}

impl std::error::Error for MessageDecodeError {}

/// `::ffff:a.b.c.d` becomes `a.b.c.d`; everything else is returned unchanged.
pub fn canonical_host(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// `sys_flag` with the two host V6 bits set exactly for the hosts that need 20 bytes.
pub fn host_sys_flags(sys_flag: i32, born_host: SocketAddr, store_host: SocketAddr) -> i32 {
    let mut f = sys_flag & !(BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
    if canonical_host(born_host).is_ipv6() {
        f |= BORNHOST_V6_FLAG;
    }
    if canonical_host(store_host).is_ipv6() {
        f |= STOREHOSTADDRESS_V6_FLAG;
    }
    f
}

fn magic_for_topic(topic: &str) -> i32 {
    if topic.len() > MAX_V1_TOPIC_LEN {
        MAGIC_CODE_V2
    } else {
        MAGIC_CODE_V1
    }
}

/// Total record length for these field sizes (`sys_flag` must already carry the host bits).
pub fn record_len(sys_flag: i32, body_len: usize, topic: &str, props_len: usize) -> usize {
    let topic_len_field = if topic.len() > MAX_V1_TOPIC_LEN { 2 } else { 1 };
    pos_body_len(sys_flag) + 4 + body_len + topic_len_field + topic.len() + 2 + props_len
}

fn put_host(out: &mut Vec<u8>, addr: SocketAddr) {
    match canonical_host(addr) {
        SocketAddr::V4(a) => out.extend_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out.extend_from_slice(&a.ip().octets()),
    }
    out.extend_from_slice(&(addr.port() as i32).to_be_bytes());
}

/// Appends the encoded record to `out` and returns its length. The V6 host bits of
/// `parts.sys_flag` are recomputed from the hosts.
pub fn encode_record(
    parts: &RecordParts<'_>,
    out: &mut Vec<u8>,
) -> Result<usize, MessageEncodeError> {
    if parts.topic.len() > i16::MAX as usize {
        return Err(MessageEncodeError::TopicTooLong(parts.topic.len()));
    }
    if parts.properties.len() > i16::MAX as usize {
        return Err(MessageEncodeError::PropertiesTooLong(
            parts.properties.len(),
        ));
    }
    let sys_flag = host_sys_flags(parts.sys_flag, parts.born_host, parts.store_host);
    let len = record_len(
        sys_flag,
        parts.body.len(),
        parts.topic,
        parts.properties.len(),
    );
    if len > i32::MAX as usize {
        return Err(MessageEncodeError::BodyTooLarge(parts.body.len()));
    }
    let v2 = parts.topic.len() > MAX_V1_TOPIC_LEN;
    out.reserve(len);
    let start = out.len();
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&magic_for_topic(parts.topic).to_be_bytes());
    out.extend_from_slice(&body_crc(parts.body).to_be_bytes());
    out.extend_from_slice(&parts.queue_id.to_be_bytes());
    out.extend_from_slice(&parts.flag.to_be_bytes());
    out.extend_from_slice(&parts.queue_offset.to_be_bytes());
    out.extend_from_slice(&parts.physical_offset.to_be_bytes());
    out.extend_from_slice(&sys_flag.to_be_bytes());
    out.extend_from_slice(&parts.born_timestamp.to_be_bytes());
    put_host(out, parts.born_host);
    out.extend_from_slice(&parts.store_timestamp.to_be_bytes());
    put_host(out, parts.store_host);
    out.extend_from_slice(&parts.reconsume_times.to_be_bytes());
    out.extend_from_slice(&parts.prepared_transaction_offset.to_be_bytes());
    out.extend_from_slice(&(parts.body.len() as i32).to_be_bytes());
    out.extend_from_slice(parts.body);
    if v2 {
        out.extend_from_slice(&(parts.topic.len() as i16).to_be_bytes());
    } else {
        out.push(parts.topic.len() as u8);
    }
    out.extend_from_slice(parts.topic.as_bytes());
    out.extend_from_slice(&(parts.properties.len() as i16).to_be_bytes());
    out.extend_from_slice(parts.properties.as_bytes());
    debug_assert_eq!(out.len() - start, len);
    Ok(len)
}

/// Encodes one record. The derived fields of `msg` (size, magic, CRC, host bits) are ignored
/// and recomputed.
pub fn encode_stored(msg: &StoredMessage) -> Result<Vec<u8>, MessageEncodeError> {
    let mut out = Vec::new();
    encode_record(&msg.parts(), &mut out)?;
    Ok(out)
}

/// Writes the end-of-segment filler header: TOTALSIZE = `remaining`, MAGICCODE = blank.
/// `out` must be at least [`BLANK_RECORD_MIN_LEN`] bytes.
pub fn write_blank(out: &mut [u8], remaining: i32) {
    out[0..4].copy_from_slice(&remaining.to_be_bytes());
    out[4..8].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
}

/// What a recovery scan finds at a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordHeader {
    /// A record of this many bytes (only size and magic checked).
    Message { size: usize },
    /// The end-of-segment filler; the rest of the segment is unused.
    Blank { size: usize },
    /// TOTALSIZE is zero: nothing was ever written here.
    End,
    /// Not a record (torn write, garbage).
    Invalid,
}

/// Cheap check of the 8-byte header at the start of `buf`, for recovery scans: size sane (at
/// least [`MIN_RECORD_LEN`], at most `buf.len()`), magic V1/V2 or blank.
pub fn record_header(buf: &[u8]) -> RecordHeader {
    if buf.len() < BLANK_RECORD_MIN_LEN {
        return if buf.iter().all(|b| *b == 0) {
            RecordHeader::End
        } else {
            RecordHeader::Invalid
        };
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let magic = i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if size == 0 && magic == 0 {
        return RecordHeader::End;
    }
    if size < 0 || size as usize > buf.len() {
        return RecordHeader::Invalid;
    }
    match magic {
        BLANK_MAGIC_CODE if size as usize >= BLANK_RECORD_MIN_LEN => RecordHeader::Blank {
            size: size as usize,
        },
        MAGIC_CODE_V1 | MAGIC_CODE_V2 if size as usize >= MIN_RECORD_LEN => RecordHeader::Message {
            size: size as usize,
        },
        _ => RecordHeader::Invalid,
    }
}

/// A parsed record borrowing its variable parts from the buffer.
#[derive(Clone, Copy, Debug)]
pub struct RecordView<'a> {
    pub total_size: i32,
    pub magic_code: i32,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties: &'a str,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MessageDecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(MessageDecodeError::Inconsistent(
                "field runs past TOTALSIZE",
            ))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i32(&mut self) -> Result<i32, MessageDecodeError> {
        let s = self.take(4)?;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn i64(&mut self) -> Result<i64, MessageDecodeError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn host(&mut self, v6: bool) -> Result<SocketAddr, MessageDecodeError> {
        let ip = if v6 {
            let s = self.take(16)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(s);
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            let s = self.take(4)?;
            IpAddr::V4(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
        };
        let port = self.i32()?;
        Ok(SocketAddr::new(ip, port as u16))
    }
}

/// Parses and validates the record at the start of `buf` (it may be followed by more bytes):
/// size, magic, field lengths adding up to TOTALSIZE, and, when `check_crc`, the body CRC.
pub fn view_record(buf: &[u8], check_crc: bool) -> Result<RecordView<'_>, MessageDecodeError> {
    if buf.len() < BLANK_RECORD_MIN_LEN {
        return Err(MessageDecodeError::Truncated {
            needed: BLANK_RECORD_MIN_LEN,
            available: buf.len(),
        });
    }
    let total_size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let magic_code = i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if magic_code == BLANK_MAGIC_CODE {
        return Err(MessageDecodeError::Blank { size: total_size });
    }
    if magic_code != MAGIC_CODE_V1 && magic_code != MAGIC_CODE_V2 {
        return Err(MessageDecodeError::BadMagic(magic_code));
    }
    if total_size < MIN_RECORD_LEN as i32 {
        return Err(MessageDecodeError::BadTotalSize(total_size));
    }
    let size = total_size as usize;
    if size > buf.len() {
        return Err(MessageDecodeError::Truncated {
            needed: size,
            available: buf.len(),
        });
    }
    let mut r = Reader {
        buf: &buf[..size],
        pos: 8,
    };
    let body_crc_field = r.i32()?;
    let queue_id = r.i32()?;
    let flag = r.i32()?;
    let queue_offset = r.i64()?;
    let physical_offset = r.i64()?;
    let sys_flag = r.i32()?;
    let born_timestamp = r.i64()?;
    let born_host = r.host(sys_flag & BORNHOST_V6_FLAG != 0)?;
    let store_timestamp = r.i64()?;
    let store_host = r.host(sys_flag & STOREHOSTADDRESS_V6_FLAG != 0)?;
    let reconsume_times = r.i32()?;
    let prepared_transaction_offset = r.i64()?;
    let body_len = r.i32()?;
    if body_len < 0 {
        return Err(MessageDecodeError::Inconsistent("negative body length"));
    }
    let body = r.take(body_len as usize)?;
    let topic_len = if magic_code == MAGIC_CODE_V2 {
        let s = r.take(2)?;
        let l = i16::from_be_bytes([s[0], s[1]]);
        if l < 0 {
            return Err(MessageDecodeError::Inconsistent("negative topic length"));
        }
        l as usize
    } else {
        r.take(1)?[0] as usize
    };
    let topic = r.take(topic_len)?;
    let props_len = {
        let s = r.take(2)?;
        let l = i16::from_be_bytes([s[0], s[1]]);
        if l < 0 {
            return Err(MessageDecodeError::Inconsistent(
                "negative properties length",
            ));
        }
        l as usize
    };
    let properties = r.take(props_len)?;
    if r.pos != size {
        return Err(MessageDecodeError::Inconsistent(
            "fields do not fill TOTALSIZE",
        ));
    }
    if check_crc {
        let computed = body_crc(body);
        if computed != body_crc_field {
            return Err(MessageDecodeError::BodyCrcMismatch {
                stored: body_crc_field,
                computed,
            });
        }
    }
    let topic = std::str::from_utf8(topic).map_err(|_| MessageDecodeError::BadUtf8("topic"))?;
    let properties =
        std::str::from_utf8(properties).map_err(|_| MessageDecodeError::BadUtf8("properties"))?;
    Ok(RecordView {
        total_size,
        magic_code,
        body_crc: body_crc_field,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    })
}

impl RecordView<'_> {
    /// An owned copy.
    pub fn to_owned_message(&self) -> StoredMessage {
        StoredMessage {
            total_size: self.total_size,
            magic_code: self.magic_code,
            body_crc: self.body_crc,
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset: self.queue_offset,
            physical_offset: self.physical_offset,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: self.store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: Bytes::copy_from_slice(self.body),
            topic: self.topic.to_string(),
            properties: self.properties.to_string(),
        }
    }
}

/// Decodes the record at the start of `buf` (body CRC not checked: pulled messages are
/// trusted as the broker stored them). Returns the message and the bytes it used.
pub fn decode_stored(buf: &[u8]) -> Result<(StoredMessage, usize), MessageDecodeError> {
    let v = view_record(buf, false)?;
    Ok((v.to_owned_message(), v.total_size as usize))
}

/// Decodes every record of a pull-response body (concatenated records).
pub fn decode_stored_all(mut buf: &[u8]) -> Result<Vec<StoredMessage>, MessageDecodeError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (m, n) = decode_stored(buf)?;
        out.push(m);
        buf = &buf[n..];
    }
    Ok(out)
}

/// Reads STORETIMESTAMP of a validated record header without a full parse; `None` if `buf` is
/// too short.
pub fn peek_store_timestamp(buf: &[u8]) -> Option<i64> {
    let sys = buf.get(POS_SYS_FLAG..POS_SYS_FLAG + 4)?;
    let sys_flag = i32::from_be_bytes([sys[0], sys[1], sys[2], sys[3]]);
    let p = pos_store_timestamp(sys_flag);
    let s = buf.get(p..p + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(i64::from_be_bytes(a))
}
