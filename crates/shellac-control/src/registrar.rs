//! `shellac register`: holds one backend key in etcd under a lease (ecosystem §2.4), replacing
//! seed 000's fleet sidekick.
//!
//! - Grants a lease of `ttl`, puts the key with it, and keeps it alive every `ttl/3`.
//! - A keep-alive answered with TTL 0, a failed keep-alive stream (leader change, partition) or a
//!   key found missing: grant again and put again.
//! - With a health check: the key is deleted while the check fails and put back when it passes.
//! - On shutdown: revoke the lease, so the key goes at once and proxies stop sending new
//!   requests (a lease that merely expires takes at least `ttl`).

use std::future::Future;
use std::time::Duration;

use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper, PutOptions};

use crate::discovery::etcd::EtcdOptions;
use crate::discovery::key;

/// What to register.
#[derive(Clone, Debug)]
pub struct Registration {
    /// The key, `<prefix><group>/<host>:<port>`.
    pub key: String,
    /// Its value (empty or JSON).
    pub value: String,
    /// Lease time to live.
    pub ttl: Duration,
    /// Health check URL; registered only while it answers 2xx or 3xx.
    pub check: Option<CheckUrl>,
    /// How often to check (and keep the lease alive, at most every `ttl/3`).
    pub check_interval: Duration,
}

/// A parsed `http://host:port/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckUrl {
    /// `host:port` to connect to.
    pub authority: String,
    /// The path and query.
    pub path: String,
}

/// Why registration cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    /// The key or value would be rejected by the proxies.
    #[error("{0}")]
    Invalid(String),
}

/// The lease currently held.
struct Held {
    id: i64,
    keeper: LeaseKeeper,
    stream: LeaseKeepAliveStream,
    /// Whether the key is in etcd under this lease.
    registered: bool,
}

// === impl Registration ===

impl Registration {
    /// Checks the key and value as the proxies will parse them.
    pub fn validate(&self) -> Result<(), RegistrarError> {
        let segment = self.key.rsplit('/').next().unwrap_or_default();
        if !self.key.starts_with('/') {
            return Err(RegistrarError::Invalid(format!("--key {:?}: must start with '/'", self.key)));
        }
        key::parse_endpoint(segment).map_err(|e| RegistrarError::Invalid(format!("--key: {e}")))?;
        key::parse_value(self.value.as_bytes()).map_err(|e| RegistrarError::Invalid(format!("--value: {e}")))?;
        if self.ttl < Duration::from_secs(1) {
            return Err(RegistrarError::Invalid("--ttl must be at least 1s".into()));
        }
        Ok(())
    }
}

impl CheckUrl {
    /// Parses `http://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<CheckUrl, RegistrarError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| RegistrarError::Invalid(format!("--check {url:?}: only http:// URLs are supported")))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(RegistrarError::Invalid(format!("--check {url:?}: no host")));
        }
        let has_port = if authority.starts_with('[') { authority.contains("]:") } else { authority.contains(':') };
        let authority = if has_port { authority.to_string() } else { format!("{authority}:80") };
        Ok(CheckUrl { authority, path: path.to_string() })
    }

    /// Whether it answers 2xx or 3xx within `timeout`.
    pub async fn is_healthy(&self, timeout: Duration) -> bool {
        match tokio::time::timeout(timeout, self.status()).await {
            Ok(Ok(s)) => (200..400).contains(&s),
            _ => false,
        }
    }

    async fn status(&self) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
        let stream = tokio::net::TcpStream::connect(&self.authority).await?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let req = http::Request::get(&self.path)
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONNECTION, "close")
            .body(String::new())?;
        Ok(send.send_request(req).await?.status().as_u16())
    }
}

/// Keeps the registration until `shutdown` completes, then revokes it. Connection problems are
/// logged and retried; they never end the loop.
pub async fn run(opts: EtcdOptions, reg: Registration, shutdown: impl Future<Output = ()>) {
    let mut client: Option<Client> = None;
    let mut held: Option<Held> = None;
    let period = reg.check_interval.min(reg.ttl / 3);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {
                let healthy = match &reg.check {
                    Some(c) => c.is_healthy(period.max(Duration::from_secs(1))).await,
                    None => true,
                };
                if let Err(e) = step(&opts, &reg, &mut client, &mut held, healthy).await {
                    tracing::warn!(key = %reg.key, "register: {e}; retrying");
                    // Start over on a fresh connection; the old lease expires by itself.
                    client = None;
                    held = None;
                }
            }
        }
    }
    if let (Some(c), Some(h)) = (client.as_mut(), held.as_ref()) {
        match tokio::time::timeout(Duration::from_secs(2), c.lease_revoke(h.id)).await {
            Ok(Ok(_)) => tracing::info!(key = %reg.key, "register: lease revoked, key removed"),
            Ok(Err(e)) => tracing::warn!(key = %reg.key, "register: revoking the lease failed: {e}"),
            Err(_) => tracing::warn!(key = %reg.key, "register: revoking the lease timed out"),
        }
    }
}

/// One round: connect, hold a lease, keep it alive, and make the key match the check.
async fn step(
    opts: &EtcdOptions,
    reg: &Registration,
    client: &mut Option<Client>,
    held: &mut Option<Held>,
    healthy: bool,
) -> Result<(), String> {
    if client.is_none() {
        *client = Some(opts.connect().await.map_err(|e| e.to_string())?);
    }
    let c = client.as_mut().ok_or("no client")?;
    let timeout = opts.timeout;
    let t = |what: &'static str| move |_| format!("{what} took longer than {timeout:?}");
    // Keep the lease alive; TTL 0 means it is gone.
    if let Some(h) = held.as_mut() {
        h.keeper.keep_alive().await.map_err(|e| format!("keep-alive: {e}"))?;
        let answer = tokio::time::timeout(timeout, h.stream.message())
            .await
            .map_err(t("keep-alive"))?
            .map_err(|e| format!("keep-alive: {e}"))?;
        if answer.is_none_or(|r| r.ttl() <= 0) {
            tracing::warn!(key = %reg.key, lease = h.id, "register: the lease is gone; granting a new one");
            *held = None;
        }
    }
    if held.is_none() {
        let secs = reg.ttl.as_secs().max(1) as i64;
        let lease = tokio::time::timeout(timeout, c.lease_grant(secs, None))
            .await
            .map_err(t("lease grant"))?
            .map_err(|e| format!("lease grant: {e}"))?;
        let (keeper, stream) = c.lease_keep_alive(lease.id()).await.map_err(|e| format!("keep-alive: {e}"))?;
        *held = Some(Held { id: lease.id(), keeper, stream, registered: false });
    }
    let h = held.as_mut().ok_or("no lease")?;
    if healthy {
        // Put when not registered, or when the key is no longer ours (deleted by hand, etcd
        // restored from a backup).
        let ours = if h.registered {
            let r = tokio::time::timeout(timeout, c.get(reg.key.as_str(), None))
                .await
                .map_err(t("get"))?
                .map_err(|e| format!("get: {e}"))?;
            r.kvs().first().is_some_and(|kv| kv.lease() == h.id && kv.value() == reg.value.as_bytes())
        } else {
            false
        };
        if !ours {
            let put = c.put(reg.key.as_str(), reg.value.as_str(), Some(PutOptions::new().with_lease(h.id)));
            tokio::time::timeout(timeout, put).await.map_err(t("put"))?.map_err(|e| format!("put: {e}"))?;
            tracing::info!(key = %reg.key, lease = h.id, "register: registered");
            h.registered = true;
        }
    } else if h.registered {
        tokio::time::timeout(timeout, c.delete(reg.key.as_str(), None))
            .await
            .map_err(t("delete"))?
            .map_err(|e| format!("delete: {e}"))?;
        tracing::warn!(key = %reg.key, "register: the health check fails; key withdrawn");
        h.registered = false;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(key: &str, value: &str) -> Registration {
        Registration {
            key: key.into(),
            value: value.into(),
            ttl: Duration::from_secs(10),
            check: None,
            check_interval: Duration::from_secs(2),
        }
    }

    #[test]
    fn keys_and_values_are_checked_before_anything_is_written() {
        assert!(reg("/varnish/backends/web/10.0.0.1:80", "").validate().is_ok());
        assert!(reg("/varnish/backends/web/[::1]:80", r#"{"weight": 2}"#).validate().is_ok());
        for (k, v, says) in [
            ("varnish/web/10.0.0.1:80", "", "must start with '/'"),
            ("/varnish/backends/web/10.0.0.1", "", "no port"),
            ("/varnish/backends/web/10.0.0.1:80", "up", "--value"),
        ] {
            let e = reg(k, v).validate().expect_err(k).to_string();
            assert!(e.contains(says), "{k}: {e}");
        }
    }

    #[test]
    fn check_urls() {
        let u = CheckUrl::parse("http://127.0.0.1:8080/health?x=1").expect("url");
        assert_eq!((u.authority.as_str(), u.path.as_str()), ("127.0.0.1:8080", "/health?x=1"));
        assert_eq!(CheckUrl::parse("http://localhost").expect("url").authority, "localhost:80");
        assert_eq!(CheckUrl::parse("http://[::1]:81/").expect("url").authority, "[::1]:81");
        assert_eq!(CheckUrl::parse("http://[::1]/").expect("url").authority, "[::1]:80");
        assert!(CheckUrl::parse("https://x/").is_err());
        assert!(CheckUrl::parse("http:///x").is_err());
    }
}
