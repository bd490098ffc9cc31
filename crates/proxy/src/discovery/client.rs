//! A DNS client for discovery: asks the configured name servers, in order, for one
//! name's records of one type, over UDP and again over TCP when the reply was
//! truncated. No cache: discovery keeps answers itself, for their TTL.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::wire::{self, Record};

/// Why a lookup has no records to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The name does not exist (NXDOMAIN).
    NoSuchName,
    /// The name exists but has no records of the type asked (NODATA), or the
    /// answer named no server.
    NoRecords,
    /// No name server gave an answer: the last reason.
    Failed(String),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NoSuchName => f.write_str("no such name (NXDOMAIN)"),
            LookupError::NoRecords => f.write_str("no records"),
            LookupError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LookupError {}

/// Name servers asked in order, each with a time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsClient {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl DnsClient {
    /// Asks `servers` in order, each given `timeout` to answer.
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> Self {
        DnsClient { servers, timeout }
    }

    /// The records of `record_type` in the answer to `name` (those of the chain a
    /// CNAME leads to included), and the reply's additional records.
    pub async fn query(
        &self,
        name: &str,
        record_type: u16,
    ) -> Result<(Vec<Record>, Vec<Record>), LookupError> {
        let mut last = LookupError::Failed("no name server configured".into());
        for &server in &self.servers {
            match self.ask(server, name, record_type).await {
                Ok(reply) if reply.rcode == 3 => return Err(LookupError::NoSuchName),
                Ok(reply) if reply.rcode == 0 => return Ok((reply.answers, reply.additional)),
                Ok(reply) => {
                    last = LookupError::Failed(format!(
                        "{server} answered with response code {}",
                        reply.rcode
                    ))
                }
                Err(why) => last = LookupError::Failed(format!("{server}: {why}")),
            }
        }
        Err(last)
    }

    /// One server's reply, over UDP, then TCP if it did not fit.
    async fn ask(
        &self,
        server: SocketAddr,
        name: &str,
        record_type: u16,
    ) -> Result<wire::Reply, String> {
        // The id only has to be unpredictable enough that a stray datagram is not
        // taken for the answer; the socket is connected to the server besides.
        let id = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish() as u16;
        let query = wire::query(id, name, record_type).map_err(|e| e.to_string())?;
        let reply = within(self.timeout, udp(server, &query, id)).await?;
        if !reply.truncated {
            return Ok(reply);
        }
        within(self.timeout, tcp(server, &query, id)).await
    }
}

/// `what`, given at most `limit`.
async fn within<T>(
    limit: Duration,
    what: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, what)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
        .map_err(|e| e.to_string())
}

async fn udp(server: SocketAddr, query: &[u8], id: u16) -> std::io::Result<wire::Reply> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(query).await?;
    let mut buffer = vec![0; 4096];
    loop {
        let n = socket.recv(&mut buffer).await?;
        // A reply to an earlier query, or noise: wait for ours.
        match wire::parse_reply(&buffer[..n]) {
            Ok(reply) if reply.id == id => return Ok(reply),
            _ => continue,
        }
    }
}

async fn tcp(server: SocketAddr, query: &[u8], id: u16) -> std::io::Result<wire::Reply> {
    let mut stream = TcpStream::connect(server).await?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let len = stream.read_u16().await? as usize;
    let mut message = vec![0; len];
    stream.read_exact(&mut message).await?;
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    let reply = wire::parse_reply(&message).map_err(|e| invalid(e.to_string()))?;
    if reply.id != id {
        return Err(invalid("the reply answers another query".into()));
    }
    Ok(reply)
}
