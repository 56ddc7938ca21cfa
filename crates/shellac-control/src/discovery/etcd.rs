//! The etcd v3 [`Store`] (etcd-client over gRPC): connection options (endpoints, user and
//! password, TLS), a prefix listing with its header revision, and a prefix watch from a
//! revision with `require_leader`, so a partitioned member ends the watch instead of hanging.

use std::time::Duration;

use etcd_client::{
    Certificate, Client, ConnectOptions, EventType, GetOptions, Identity, TlsOptions, WatchOptions, WatchStream,
};

use super::{Event, Header, Kv, Listing, Store, StoreError, Watch, WatchMessage};

/// How to reach etcd.
#[derive(Clone, Debug, Default)]
pub struct EtcdOptions {
    /// Endpoints, `http://host:port` or `https://host:port`.
    pub endpoints: Vec<String>,
    /// User and password, if authentication is on.
    pub user: Option<(String, String)>,
    /// PEM CA certificate to trust.
    pub ca: Option<Vec<u8>>,
    /// PEM client certificate and key.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// How long a connection attempt and each request may take.
    pub timeout: Duration,
}

/// An etcd cluster.
pub struct EtcdStore {
    opts: EtcdOptions,
    client: Option<Client>,
}

/// A running etcd watch.
pub struct EtcdWatch(WatchStream);

// === impl EtcdOptions ===

impl EtcdOptions {
    /// Options for endpoints given as `URL[,URL…]`.
    pub fn new(endpoints: &str) -> EtcdOptions {
        EtcdOptions {
            endpoints: endpoints.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
            timeout: Duration::from_secs(5),
            ..EtcdOptions::default()
        }
    }

    /// Connects (used by the watcher and the registrar).
    pub async fn connect(&self) -> Result<Client, StoreError> {
        let mut o = ConnectOptions::new()
            .with_require_leader(true)
            .with_connect_timeout(self.timeout)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        if let Some((user, password)) = &self.user {
            o = o.with_user(user.clone(), password.clone());
        }
        if self.ca.is_some() || self.identity.is_some() || self.endpoints.iter().any(|e| e.starts_with("https://")) {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &self.ca {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &self.identity {
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            o = o.with_tls(tls);
        }
        let connect = Client::connect(&self.endpoints, Some(o));
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(StoreError(format!("cannot connect to {}: {e}", self.endpoints.join(",")))),
            Err(_) => {
                Err(StoreError(format!("cannot connect to {} within {:?}", self.endpoints.join(","), self.timeout)))
            }
        }
    }
}

// === impl EtcdStore ===

impl EtcdStore {
    /// A store that connects on first use.
    pub fn new(opts: EtcdOptions) -> EtcdStore {
        EtcdStore { opts, client: None }
    }

    async fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_none() {
            self.client = Some(self.opts.connect().await?);
        }
        self.client.as_mut().ok_or_else(|| StoreError("no client".into()))
    }
}

fn err(what: &str, e: etcd_client::Error) -> StoreError {
    StoreError(format!("{what}: {e}"))
}

impl Store for EtcdStore {
    type Watch = EtcdWatch;

    async fn list(&mut self, prefix: &str) -> Result<Listing, StoreError> {
        let timeout = self.opts.timeout;
        let client = self.client().await?;
        let get = client.get(prefix, Some(GetOptions::new().with_prefix()));
        let r = tokio::time::timeout(timeout, get)
            .await
            .map_err(|_| StoreError(format!("listing {prefix} took longer than {timeout:?}")))?
            .map_err(|e| err("listing", e))?;
        let (cluster_id, revision) = r.header().map_or((0, 0), |h| (h.cluster_id(), h.revision()));
        let kvs = r
            .kvs()
            .iter()
            .map(|kv| Kv {
                key: String::from_utf8_lossy(kv.key()).into_owned(),
                value: kv.value().to_vec(),
                mod_revision: kv.mod_revision(),
            })
            .collect();
        Ok(Listing { cluster_id, revision, kvs })
    }

    async fn header(&mut self, prefix: &str) -> Result<Header, StoreError> {
        let timeout = self.opts.timeout;
        let client = self.client().await?;
        let get = client.get(prefix, Some(GetOptions::new().with_prefix().with_count_only()));
        let r = tokio::time::timeout(timeout, get)
            .await
            .map_err(|_| StoreError(format!("asking for the revision took longer than {timeout:?}")))?
            .map_err(|e| err("asking for the revision", e))?;
        let h = r.header().ok_or_else(|| StoreError("an answer without a header".into()))?;
        Ok(Header { cluster_id: h.cluster_id(), revision: h.revision() })
    }

    async fn watch(&mut self, prefix: &str, start: i64) -> Result<EtcdWatch, StoreError> {
        let timeout = self.opts.timeout;
        let client = self.client().await?;
        let watch = client.watch(prefix, Some(WatchOptions::new().with_prefix().with_start_revision(start)));
        let stream = tokio::time::timeout(timeout, watch)
            .await
            .map_err(|_| StoreError(format!("starting the watch took longer than {timeout:?}")))?
            .map_err(|e| err("watching", e))?;
        Ok(EtcdWatch(stream))
    }

    fn reset(&mut self) {
        self.client = None;
    }
}

impl Watch for EtcdWatch {
    async fn next(&mut self) -> Result<Option<WatchMessage>, StoreError> {
        loop {
            let Some(r) = self.0.message().await.map_err(|e| err("watch", e))? else {
                return Ok(None);
            };
            if r.canceled() {
                return Ok(Some(if r.compact_revision() > 0 {
                    WatchMessage::Compacted(r.compact_revision())
                } else {
                    WatchMessage::Canceled(r.cancel_reason().to_string())
                }));
            }
            // `created` and progress notifications carry no events.
            if r.events().is_empty() {
                continue;
            }
            let events = r
                .events()
                .iter()
                .filter_map(|e| {
                    let kv = e.kv()?;
                    let key = String::from_utf8_lossy(kv.key()).into_owned();
                    Some(match e.event_type() {
                        EventType::Put => {
                            Event::Put(Kv { key, value: kv.value().to_vec(), mod_revision: kv.mod_revision() })
                        }
                        EventType::Delete => Event::Delete { key, revision: kv.mod_revision() },
                    })
                })
                .collect();
            return Ok(Some(WatchMessage::Events(events)));
        }
    }
}
