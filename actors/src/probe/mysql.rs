//! The MySQL / MariaDB probe: a real login over the client/server protocol, then `COM_PING`,
//! on a fresh connection each time (a probe every few seconds costs the server one short
//! session). It speaks just what that takes — the v10 handshake, `HandshakeResponse41`, the
//! `mysql_native_password` and `caching_sha2_password` (fast path) scrambles and an auth
//! switch — rather than pulling a full driver and its dependencies into Grace for a ping.
//! No TLS: a server that insists on it says so, and the probe reports that. A refused login
//! (access denied, a login method Grace does not speak) is `db.auth_failed` (`login.rs`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{login, Probe, ProbeFailure};
use crate::event::types;
use crate::model::Severity;
use crate::spec::PasswordSpec;
use crate::target::MysqlTarget;

/// Largest packet read: a handshake, an OK or an error is well under this.
const PACKET_BYTES_MAX: usize = 64 * 1024;
const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
const UTF8MB4_GENERAL_CI: u8 = 45;
const COM_QUIT: u8 = 0x01;
const COM_PING: u8 = 0x0e;

pub struct MysqlProbe {
    target: MysqlTarget,
    /// Where the password is when the url has none.
    password: PasswordSpec,
}

/// Why a probe failed: the login was refused, or anything else.
enum Failed {
    Refused(ProbeFailure),
    Other(String),
}

impl From<String> for Failed {
    fn from(error: String) -> Self {
        Failed::Other(error)
    }
}

impl MysqlProbe {
    pub fn new(target: MysqlTarget, password: PasswordSpec) -> Self {
        Self { target, password }
    }

    async fn check(&self, timeout: Duration) -> Result<String, ProbeFailure> {
        let mut target = self.target.clone();
        let env = crate::credentials::process_env;
        if let Some(found) = crate::credentials::from_spec(&self.password, &env) {
            target.password =
                found.map_err(|why| login::unreadable(types::DB_AUTH_FAILED, &why))?;
        }
        let address = &target.address;
        let round_trip = tokio::time::timeout(timeout, ping(&target));
        let result = match round_trip.await {
            Ok(result) => result,
            Err(_) => Err(Failed::Other(format!(
                "no answer from {address} within {timeout:?}"
            ))),
        };
        result.map_err(|failed| match failed {
            Failed::Refused(refused) => refused,
            Failed::Other(error) => ProbeFailure {
                event_type: types::DB_CONNECTION_LOST,
                severity: Severity::High,
                error,
            },
        })
    }
}

impl Probe for MysqlProbe {
    fn probe(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.check(timeout))
    }

    fn verify(&mut self, timeout: Duration) -> BoxFuture<'_, Result<String, ProbeFailure>> {
        Box::pin(self.check(timeout))
    }

    fn recovery_event(&self) -> &'static str {
        types::DB_CONNECTION_RESTORED
    }
}

/// Logs in, pings, says goodbye; the server's version.
async fn ping(target: &MysqlTarget) -> Result<String, Failed> {
    let address = &target.address;
    let stream = TcpStream::connect(address)
        .await
        .map_err(|error| format!("cannot connect to {address}: {error}"))?;
    let mut conn = Conn {
        stream,
        seq: 0,
        server_code: None,
    };
    let greeting = conn.read().await.map_err(|error| conn.refusal(error))?;
    let handshake = Handshake::parse(&greeting)?;
    let password = target.password.expose();
    let scramble = scramble(&handshake.plugin, password, &handshake.nonce)
        .map_err(|error| Failed::Refused(login::mysql_method(&error)))?;
    conn.write(&handshake_response(target, &handshake, &scramble))
        .await?;
    conn.authenticated(target).await?;
    conn.seq = 0;
    conn.write(&[COM_PING]).await?;
    match conn.read().await?.first() {
        Some(0x00) => {}
        _ => {
            return Err("the server did not answer COM_PING with OK"
                .to_owned()
                .into())
        }
    }
    conn.seq = 0;
    let _ = conn.write(&[COM_QUIT]).await;
    Ok(format!("{} (MySQL protocol)", handshake.server_version))
}

/// One connection, its packet sequence number and the code of the last error packet read.
struct Conn {
    stream: TcpStream,
    seq: u8,
    server_code: Option<u16>,
}

impl Conn {
    async fn read(&mut self) -> Result<Vec<u8>, String> {
        let mut header = [0u8; 4];
        self.stream
            .read_exact(&mut header)
            .await
            .map_err(|error| format!("the connection ended: {error}"))?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        if length > PACKET_BYTES_MAX {
            return Err(format!(
                "a {length}-byte packet; at most {PACKET_BYTES_MAX} expected"
            ));
        }
        self.seq = header[3].wrapping_add(1);
        let mut payload = vec![0u8; length];
        self.stream
            .read_exact(&mut payload)
            .await
            .map_err(|error| format!("the connection ended: {error}"))?;
        match payload.first() {
            Some(0xff) => {
                self.server_code = payload.get(1..3).map(|c| u16::from_le_bytes([c[0], c[1]]));
                Err(server_error(&payload))
            }
            _ => Ok(payload),
        }
    }

    async fn write(&mut self, payload: &[u8]) -> Result<(), String> {
        let length = (payload.len() as u32).to_le_bytes();
        let mut packet = vec![length[0], length[1], length[2], self.seq];
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.stream
            .write_all(&packet)
            .await
            .map_err(|error| format!("cannot write to the server: {error}"))
    }

    /// Reads until the login is accepted: through an auth switch or a `caching_sha2`
    /// fast-auth note.
    async fn authenticated(&mut self, target: &MysqlTarget) -> Result<(), Failed> {
        for _ in 0..4 {
            let reply = self.read().await.map_err(|error| self.refusal(error))?;
            match reply.first() {
                Some(0x00) => return Ok(()),
                Some(0xfe) => {
                    let (plugin, nonce) = auth_switch(&reply);
                    let answer = scramble(&plugin, target.password.expose(), &nonce)
                        .map_err(|error| Failed::Refused(login::mysql_method(&error)))?;
                    self.write(&answer).await?;
                }
                Some(0x01) if reply.get(1) == Some(&0x03) => {} // fast auth done: OK follows
                Some(0x01) => {
                    let needs_tls = "the server wants a full caching_sha2_password login, which \
                                     needs TLS";
                    return Err(Failed::Refused(login::mysql_method(needs_tls)));
                }
                _ => {
                    let unknown = "the server answered the login with something unknown";
                    return Err(unknown.to_owned().into());
                }
            }
        }
        Err("the login did not end".to_owned().into())
    }

    /// A read's error during the login: a refusal when the server's code says so.
    fn refusal(&self, error: String) -> Failed {
        match self.server_code {
            Some(code) if login::MYSQL_REFUSALS.contains(&code) => {
                Failed::Refused(login::mysql(&error))
            }
            _ => Failed::Other(error),
        }
    }
}

/// What an error packet says: `ERROR 1045 (28000): Access denied for user …`.
fn server_error(payload: &[u8]) -> String {
    let code = payload
        .get(1..3)
        .map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
    let text = match payload.get(3) {
        Some(b'#') => payload.get(9..).unwrap_or_default(),
        _ => payload.get(3..).unwrap_or_default(),
    };
    format!("ERROR {code}: {}", String::from_utf8_lossy(text))
}

/// The server's greeting (protocol version 10).
struct Handshake {
    server_version: String,
    capabilities: u32,
    nonce: Vec<u8>,
    plugin: String,
}

impl Handshake {
    fn parse(packet: &[u8]) -> Result<Self, String> {
        let bad = || "the server's greeting is not a MySQL v10 handshake".to_owned();
        if packet.first() != Some(&10) {
            return Err(bad());
        }
        let version_end = packet[1..].iter().position(|b| *b == 0).ok_or_else(bad)? + 1;
        let server_version = String::from_utf8_lossy(&packet[1..version_end]).into_owned();
        let rest = packet.get(version_end + 1..).ok_or_else(bad)?;
        // connection id (4), nonce part 1 (8), filler (1), capabilities low (2), charset (1),
        // status (2), capabilities high (2), nonce length (1), reserved (10), nonce part 2.
        let field = |from: usize, to: usize| rest.get(from..to).ok_or_else(bad);
        let mut nonce = field(4, 12)?.to_vec();
        let low = field(13, 15)?;
        let high = field(18, 20)?;
        let capabilities = u32::from_le_bytes([low[0], low[1], high[0], high[1]]);
        let nonce_len = usize::from(*field(20, 21)?.first().ok_or_else(bad)?);
        let part2_len = nonce_len.saturating_sub(8).max(13);
        let part2 = field(31, 31 + part2_len)?;
        nonce.extend_from_slice(&part2[..12.min(part2.len())]);
        let after = rest.get(31 + part2_len..).unwrap_or_default();
        let plugin_end = after.iter().position(|b| *b == 0).unwrap_or(after.len());
        let plugin = String::from_utf8_lossy(&after[..plugin_end]).into_owned();
        Ok(Self {
            server_version,
            capabilities,
            nonce,
            plugin: if plugin.is_empty() {
                "mysql_native_password".into()
            } else {
                plugin
            },
        })
    }
}

fn handshake_response(target: &MysqlTarget, handshake: &Handshake, scramble: &[u8]) -> Vec<u8> {
    let mut flags = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
    flags |= CLIENT_PLUGIN_AUTH & handshake.capabilities;
    if target.database.is_some() {
        flags |= CLIENT_CONNECT_WITH_DB;
    }
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    out.push(UTF8MB4_GENERAL_CI);
    out.extend_from_slice(&[0u8; 23]);
    out.extend_from_slice(target.user.as_bytes());
    out.push(0);
    out.push(scramble.len() as u8);
    out.extend_from_slice(scramble);
    if let Some(database) = &target.database {
        out.extend_from_slice(database.as_bytes());
        out.push(0);
    }
    if flags & CLIENT_PLUGIN_AUTH != 0 {
        out.extend_from_slice(handshake.plugin.as_bytes());
        out.push(0);
    }
    out
}

/// An auth switch request: the plugin to use and its nonce.
fn auth_switch(packet: &[u8]) -> (String, Vec<u8>) {
    let body = &packet[1..];
    let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
    let plugin = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut nonce = body.get(end + 1..).unwrap_or_default().to_vec();
    if nonce.last() == Some(&0) {
        nonce.pop();
    }
    (plugin, nonce)
}

/// The password proof `plugin` asks for.
fn scramble(plugin: &str, password: &str, nonce: &[u8]) -> Result<Vec<u8>, String> {
    if password.is_empty() {
        return Ok(Vec::new());
    }
    match plugin {
        "mysql_native_password" => {
            let hashed = Sha1::digest(password.as_bytes());
            let twice = Sha1::digest(hashed);
            let salted = Sha1::new()
                .chain_update(nonce)
                .chain_update(twice)
                .finalize();
            Ok(xor(&hashed, &salted))
        }
        "caching_sha2_password" => {
            let hashed = Sha256::digest(password.as_bytes());
            let twice = Sha256::digest(hashed);
            let salted = Sha256::new()
                .chain_update(twice)
                .chain_update(nonce)
                .finalize();
            Ok(xor(&hashed, &salted))
        }
        other => Err(format!(
            "the server asks for the {other:?} login, which Grace does not speak"
        )),
    }
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_scramble_matches_the_servers_formula() {
        // SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))), checked the way the server checks it:
        // SHA1(scramble XOR SHA1(nonce + stored)) == stored, stored = SHA1(SHA1(pw)).
        let nonce = b"0123456789abcdefghij";
        let proof = scramble("secret", "secret", nonce).unwrap_err();
        assert!(proof.contains("\"secret\""), "{proof}");
        let proof = scramble("mysql_native_password", "secret", nonce).unwrap();
        let stored = Sha1::digest(Sha1::digest(b"secret"));
        let salted = Sha1::new()
            .chain_update(nonce)
            .chain_update(stored)
            .finalize();
        let recovered = xor(&proof, &salted);
        assert_eq!(Sha1::digest(&recovered).as_slice(), stored.as_slice());
        assert!(scramble("mysql_native_password", "", nonce)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_error_packet_says_its_code_and_message() {
        let mut packet = vec![0xff, 0x15, 0x04, b'#'];
        packet.extend_from_slice(b"28000Access denied for user 'x'");
        assert_eq!(
            server_error(&packet),
            "ERROR 1045: Access denied for user 'x'"
        );
    }
}
