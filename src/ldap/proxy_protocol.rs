//! The PROXY protocol header (versions 1 and 2, HAProxy's proxy-protocol.txt) that a
//! trusted load balancer sends before the client's first byte: the pure parser, and a
//! reader that takes exactly the header's bytes off a stream under a time limit. It
//! decides nothing about trust; the listener asks it only for trusted peers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// proxy-protocol.txt §2.2: the twelve bytes every version 2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// proxy-protocol.txt §2.1: a version 1 line is at most 107 bytes with its CRLF.
const V1_MAX: usize = 107;
/// Version 2 address blocks (with TLVs) accepted at most. The format allows 65,535;
/// a balancer sending addresses and a few TLVs needs far fewer.
pub const V2_MAX_BLOCK: usize = 512;
/// How long a trusted balancer may take to send the header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A relayed connection: the client's address and the address it connected to.
    Proxied {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// The balancer's own connection (v2 LOCAL, e.g. a health check) or one whose
    /// addresses it does not know (v1 UNKNOWN, v2 UNSPEC): the peer address stands.
    Local,
}

/// The parser's state after the bytes it has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header, `len` bytes long.
    Done(ProxyHeader, usize),
    /// At least this many more bytes are needed.
    Need(usize),
}

/// Parses the start of `buf` as a PROXY header, never looking past the header's end.
pub fn parse(buf: &[u8]) -> Result<Parsed, String> {
    let v1 = b"PROXY ";
    let starts = |sig: &[u8]| {
        let n = buf.len().min(sig.len());
        buf[..n] == sig[..n]
    };
    match buf.first() {
        None => Ok(Parsed::Need(1)),
        Some(b'\r') if starts(&V2_SIGNATURE) => parse_v2(buf),
        Some(b'P') if starts(v1) => parse_v1(buf),
        Some(_) => Err("not a PROXY protocol header".to_string()),
    }
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, String> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() >= V1_MAX {
            return Err("PROXY v1 line longer than 107 bytes".to_string());
        }
        return Ok(Parsed::Need(1));
    };
    let len = end + 2;
    if len > V1_MAX {
        return Err("PROXY v1 line longer than 107 bytes".to_string());
    }
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| "PROXY v1 line is not ASCII")?;
    let fields: Vec<&str> = line.split(' ').collect();
    let header = match fields.as_slice() {
        ["PROXY", "UNKNOWN", ..] => ProxyHeader::Local,
        ["PROXY", proto @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |s: &str| -> Result<IpAddr, String> {
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| format!("PROXY v1: `{s}` is not an address"))?;
                if ip.is_ipv4() != (*proto == "TCP4") {
                    return Err(format!("PROXY v1: `{s}` is not a {proto} address"));
                }
                Ok(ip)
            };
            let port = |s: &str| -> Result<u16, String> {
                // proxy-protocol.txt §2.1: ports are decimal without leading zeros.
                if s.is_empty()
                    || (s.len() > 1 && s.starts_with('0'))
                    || !s.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(format!("PROXY v1: `{s}` is not a port"));
                }
                s.parse()
                    .map_err(|_| format!("PROXY v1: `{s}` is not a port"))
            };
            ProxyHeader::Proxied {
                source: SocketAddr::new(ip(src)?, port(sport)?),
                destination: SocketAddr::new(ip(dst)?, port(dport)?),
            }
        }
        _ => {
            return Err(format!(
                "PROXY v1: malformed line `{}`",
                line.escape_debug()
            ));
        }
    };
    Ok(Parsed::Done(header, len))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, String> {
    if buf.len() < 16 {
        return Ok(Parsed::Need(16 - buf.len()));
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(format!("PROXY v2: version {} is not 2", ver_cmd >> 4));
    }
    let fam = buf[13];
    let block = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if block > V2_MAX_BLOCK {
        return Err(format!(
            "PROXY v2: address block of {block} bytes (at most {V2_MAX_BLOCK} accepted)"
        ));
    }
    let len = 16 + block;
    if buf.len() < len {
        return Ok(Parsed::Need(len - buf.len()));
    }
    let body = &buf[16..len];
    let header = match ver_cmd & 0x0f {
        // LOCAL: the balancer's own connection; the address block is ignored (§2.2).
        0x0 => ProxyHeader::Local,
        0x1 => match fam {
            // TCP over IPv4.
            0x11 => {
                if body.len() < 12 {
                    return Err("PROXY v2: short IPv4 address block".to_string());
                }
                let ip = |o: usize| Ipv4Addr::new(body[o], body[o + 1], body[o + 2], body[o + 3]);
                let port = |o: usize| u16::from_be_bytes([body[o], body[o + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(IpAddr::V4(ip(0)), port(8)),
                    destination: SocketAddr::new(IpAddr::V4(ip(4)), port(10)),
                }
            }
            // TCP over IPv6.
            0x21 => {
                if body.len() < 36 {
                    return Err("PROXY v2: short IPv6 address block".to_string());
                }
                let ip = |o: usize| {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&body[o..o + 16]);
                    Ipv6Addr::from(a)
                };
                let port = |o: usize| u16::from_be_bytes([body[o], body[o + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(IpAddr::V6(ip(0)), port(32)),
                    destination: SocketAddr::new(IpAddr::V6(ip(16)), port(34)),
                }
            }
            // UNSPEC: addresses unknown.
            0x00 => ProxyHeader::Local,
            other => {
                return Err(format!(
                    "PROXY v2: address family/protocol 0x{other:02x} is not TCP"
                ));
            }
        },
        other => {
            return Err(format!(
                "PROXY v2: command {other} is neither LOCAL nor PROXY"
            ));
        }
    };
    Ok(Parsed::Done(header, len))
}

/// Reads exactly one PROXY header off `stream` within `HEADER_TIMEOUT`, leaving the bytes
/// after it unread.
pub async fn read_header<S: AsyncRead + Unpin>(stream: &mut S) -> Result<ProxyHeader, String> {
    let read = async {
        let mut buf: Vec<u8> = Vec::with_capacity(64);
        // "PROXY UNKNOWN\r\n" (15 bytes) is the shortest header of either version.
        let mut need = 15;
        loop {
            let start = buf.len();
            buf.resize(start + need, 0);
            stream
                .read_exact(&mut buf[start..])
                .await
                .map_err(|e| format!("connection ended inside the PROXY header: {e}"))?;
            match parse(&buf)? {
                Parsed::Done(header, _) => return Ok(header),
                Parsed::Need(n) => need = n,
            }
        }
    };
    match tokio::time::timeout(HEADER_TIMEOUT, read).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no PROXY header within {} s from a trusted balancer",
            HEADER_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> (ProxyHeader, usize) {
        match parse(buf).unwrap() {
            Parsed::Done(h, l) => (h, l),
            p => panic!("incomplete: {p:?}"),
        }
    }

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut b = V2_SIGNATURE.to_vec();
        b.push(0x20 | cmd);
        b.push(fam);
        b.extend_from_slice(&(body.len() as u16).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn v1_tcp4_tcp6_unknown() {
        let line = b"PROXY TCP4 198.51.100.22 203.0.113.7 35646 389\r\n";
        let mut with_ldap = line.to_vec();
        with_ldap.extend_from_slice(&[0x30, 0x0c]);
        assert_eq!(
            done(&with_ldap),
            (
                ProxyHeader::Proxied {
                    source: "198.51.100.22:35646".parse().unwrap(),
                    destination: "203.0.113.7:389".parse().unwrap(),
                },
                line.len()
            )
        );
        let (h, _) = done(b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 636\r\n");
        assert_eq!(
            h,
            ProxyHeader::Proxied {
                source: "[2001:db8::1]:65535".parse().unwrap(),
                destination: "[2001:db8::2]:636".parse().unwrap(),
            }
        );
        assert_eq!(done(b"PROXY UNKNOWN\r\n"), (ProxyHeader::Local, 15));
        assert_eq!(
            done(b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n").0,
            ProxyHeader::Local
        );
        // Incomplete: asks for more, one byte at a time, never past the CRLF.
        assert_eq!(parse(b"PROXY TCP4 1.2").unwrap(), Parsed::Need(1));
        assert_eq!(parse(b"PRO").unwrap(), Parsed::Need(1));
    }

    #[test]
    fn v2_tcp4_tcp6_local_unspec_and_tlvs() {
        let mut body = vec![198, 51, 100, 22, 203, 0, 113, 7];
        body.extend_from_slice(&35646u16.to_be_bytes());
        body.extend_from_slice(&389u16.to_be_bytes());
        // A TLV (PP2_TYPE_UNIQUE_ID) after the addresses is skipped.
        body.extend_from_slice(&[0x05, 0x00, 0x03, b'a', b'b', b'c']);
        let h = v2(1, 0x11, &body);
        assert_eq!(
            done(&h),
            (
                ProxyHeader::Proxied {
                    source: "198.51.100.22:35646".parse().unwrap(),
                    destination: "203.0.113.7:389".parse().unwrap(),
                },
                h.len()
            )
        );
        let mut body6 = Vec::new();
        body6.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        body6.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        body6.extend_from_slice(&[0x01, 0x02, 0x01, 0x85]);
        assert_eq!(
            done(&v2(1, 0x21, &body6)).0,
            ProxyHeader::Proxied {
                source: "[2001:db8::1]:258".parse().unwrap(),
                destination: "[2001:db8::2]:389".parse().unwrap(),
            }
        );
        assert_eq!(done(&v2(0, 0x00, &[])), (ProxyHeader::Local, 16));
        assert_eq!(done(&v2(0, 0x11, &body)).0, ProxyHeader::Local);
        assert_eq!(done(&v2(1, 0x00, &[])).0, ProxyHeader::Local);
        // Incomplete: the exact number of bytes still missing.
        assert_eq!(parse(&h[..10]).unwrap(), Parsed::Need(6));
        assert_eq!(parse(&h[..16]).unwrap(), Parsed::Need(h.len() - 16));
    }

    #[test]
    fn malformed_headers_are_errors() {
        let bad: Vec<Vec<u8>> = vec![
            b"GET / HTTP/1.1\r\n".to_vec(),
            vec![0x30, 0x0c, 0x02, 0x01, 0x01],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n".to_vec(),
            b"PROXY TCP4 2001:db8::1 5.6.7.8 80 389\r\n".to_vec(),
            b"PROXY TCP4 1.2.3.4 5.6.7.8 080 389\r\n".to_vec(),
            b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 389\r\n".to_vec(),
            b"PROXY TCP4  1.2.3.4 5.6.7.8 80 389\r\n".to_vec(),
            b"PROXY UDP4 1.2.3.4 5.6.7.8 80 389\r\n".to_vec(),
            [b"PROXY TCP4 ".to_vec(), vec![b'1'; 100]].concat(),
            // Version 1 nibble in a v2 header, a UDP family, an unknown command.
            {
                let mut h = v2(1, 0x11, &[0; 12]);
                h[12] = 0x11;
                h
            },
            v2(1, 0x12, &[0; 12]),
            v2(2, 0x11, &[0; 12]),
            v2(1, 0x11, &[0; 8]),
            v2(1, 0x21, &[0; 20]),
        ];
        for b in bad {
            assert!(
                parse(&b).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(&b)
            );
        }
        // An oversized v2 block is refused from its length alone, before it is read.
        let mut big = V2_SIGNATURE.to_vec();
        big.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(parse(&big).is_err());
    }

    #[tokio::test]
    async fn the_reader_leaves_the_ldap_bytes() {
        let mut body = vec![192, 0, 2, 9, 127, 0, 0, 1];
        body.extend_from_slice(&[0x9c, 0x40, 0x01, 0x85]);
        let mut input = v2(1, 0x11, &body);
        input.extend_from_slice(&[0x30, 0x05, 0x02]);
        let mut r = &input[..];
        let h = read_header(&mut r).await.unwrap();
        assert_eq!(
            h,
            ProxyHeader::Proxied {
                source: "192.0.2.9:40000".parse().unwrap(),
                destination: "127.0.0.1:389".parse().unwrap(),
            }
        );
        assert_eq!(r, &[0x30, 0x05, 0x02]);
        let mut line = &b"PROXY TCP4 192.0.2.9 127.0.0.1 40000 389\r\n0\x05"[..];
        assert!(read_header(&mut line).await.is_ok());
        assert_eq!(line, b"0\x05");
        let mut short = &b"PROXY TCP4 192.0.2.9"[..];
        assert!(read_header(&mut short).await.is_err());
    }
}
