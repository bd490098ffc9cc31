//! A fake memcached server for the layer tests: a tiny in-memory store that records
//! which requests reached it, and can be told to fail, to answer late, or to answer one
//! fixed reply. Built for this crate's tests, and for other crates' with the
//! `test-util` feature.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use memkeep_protocol::{
    Command, Delete, Form, Get, ItemMeta, Request, Response, Store, StoreMode, TextForm, TextVerb,
    Value,
};
use memkeep_ring::{Distribution, Hash, Ring, Server};
use parking_lot::Mutex;
use tower_service::Service;

use crate::layer::shard::{Shard, ShardOptions};
use crate::BoxError;

/// Every request any fake of one test saw, in arrival order, as `"name: summary"`.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// Takes the entries recorded so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock())
    }
}

#[derive(Default)]
struct State {
    items: HashMap<Bytes, Value>,
    fail: bool,
    refuse: bool,
    delay: Duration,
    reply: Option<Response>,
}

/// One fake server. Clones share the store and the knobs.
#[derive(Clone)]
pub struct Fake {
    name: &'static str,
    log: Log,
    state: Arc<Mutex<State>>,
}

impl Fake {
    /// A server named `name` that records into `log`.
    pub fn new(name: &'static str, log: &Log) -> Self {
        Fake {
            name,
            log: log.clone(),
            state: Arc::default(),
        }
    }

    /// Puts an item straight into the store (not logged).
    pub fn put(&self, key: &str, data: &str, flags: u32, ttl: i64) {
        let v = value(key, data, flags, ttl);
        self.state.lock().items.insert(v.key.clone(), v);
    }

    /// Empties the store, as a restart would (not logged).
    pub fn clear(&self) {
        self.state.lock().items.clear();
    }

    /// The stored item's data, flags and ttl.
    pub fn item(&self, key: &str) -> Option<(String, u32, i64)> {
        let state = self.state.lock();
        let v = state.items.get(key.as_bytes())?;
        Some((
            String::from_utf8_lossy(&v.data).into_owned(),
            v.meta.flags,
            v.meta.ttl,
        ))
    }

    /// From now on every request fails with a connection error.
    pub fn fail(&self, fail: bool) {
        self.state.lock().fail = fail;
    }

    /// From now on `poll_ready` fails (no connection): requests are never sent.
    pub fn refuse(&self, refuse: bool) {
        self.state.lock().refuse = refuse;
    }

    /// From now on every reply comes after `delay`.
    pub fn delay(&self, delay: Duration) {
        self.state.lock().delay = delay;
    }

    /// From now on every request gets this reply (the store is not touched).
    pub fn reply(&self, reply: Response) {
        self.state.lock().reply = Some(reply);
    }

    fn execute(&self, req: &Request) -> Result<Response, BoxError> {
        let mut state = self.state.lock();
        if state.fail {
            return Err(format!("{} is down", self.name).into());
        }
        if let Some(reply) = &state.reply {
            return Ok(reply.clone());
        }
        let items = &mut state.items;
        Ok(match &req.command {
            // As memkeep's backends answer: a multi-get that does not ask for TTLs
            // goes as a text `get`, whose items carry none (0).
            Command::Get(get) => Response::Values(
                get.keys
                    .iter()
                    .filter_map(|k| items.get(k).cloned())
                    .map(|mut v| {
                        if get.keys.len() > 1 && !get.want_ttl {
                            v.meta.ttl = 0;
                        }
                        v
                    })
                    .collect(),
            ),
            Command::Store(s) => {
                let present = items.contains_key(&s.key);
                let store = match s.mode {
                    StoreMode::Add => !present,
                    StoreMode::Replace | StoreMode::Append | StoreMode::Prepend => present,
                    StoreMode::Set => true,
                };
                if !store {
                    return Ok(Response::NotStored);
                }
                let ttl = if s.exptime == 0 { -1 } else { s.exptime };
                let v = Value {
                    key: s.key.clone(),
                    data: s.data.clone(),
                    meta: ItemMeta {
                        flags: s.flags,
                        ttl,
                        ..ItemMeta::default()
                    },
                };
                items.insert(s.key.clone(), v);
                Response::Stored(ItemMeta::default())
            }
            Command::Delete(d) => match items.remove(&d.key) {
                Some(_) => Response::Deleted,
                None => Response::NotFound,
            },
            Command::Arith(a) => Response::Number(a.delta, ItemMeta::default()),
            Command::Version => Response::Version(Bytes::from_static(b"1.6.0")),
            _ => Response::Ok,
        })
    }
}

impl Service<Request> for Fake {
    type Response = Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.state.lock().refuse {
            return Poll::Ready(Err(format!("{} refused the connection", self.name).into()));
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        self.log
            .0
            .lock()
            .push(format!("{}: {}", self.name, summary(&req)));
        let this = self.clone();
        let delay = self.state.lock().delay;
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            // Decided when the reply is due, so a test can change a knob meanwhile.
            this.execute(&req)
        })
    }
}

/// A request in a few words: `get a b`, `set k v`, `add k v f=1 t=60`, `delete k`.
pub fn summary(req: &Request) -> String {
    let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    match &req.command {
        Command::Get(g) => {
            let keys: Vec<String> = g.keys.iter().map(s).collect();
            format!("get {}", keys.join(" "))
        }
        Command::Store(st) => {
            let verb = format!("{:?}", st.mode).to_lowercase();
            let mut out = format!("{verb} {} {}", s(&st.key), s(&st.data));
            if st.flags != 0 {
                out += &format!(" f={}", st.flags);
            }
            if st.exptime != 0 {
                out += &format!(" t={}", st.exptime);
            }
            out
        }
        Command::Delete(d) => format!("delete {}", s(&d.key)),
        Command::Arith(a) => format!("incr {}", s(&a.key)),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn text(verb: TextVerb) -> Form {
    Form::Text(TextForm {
        verb,
        noreply: false,
    })
}

/// `get k1 k2 ...`
pub fn get(keys: &[&str]) -> Request {
    Request {
        command: Command::Get(Get {
            keys: keys
                .iter()
                .map(|k| Bytes::copy_from_slice(k.as_bytes()))
                .collect(),
            ..Get::default()
        }),
        form: text(TextVerb::Get),
    }
}

/// `set key data` with no flags and no expiry.
pub fn set(key: &str, data: &str) -> Request {
    Request {
        command: Command::Store(Store {
            key: Bytes::copy_from_slice(key.as_bytes()),
            data: Bytes::copy_from_slice(data.as_bytes()),
            ..Store::default()
        }),
        form: text(TextVerb::Set),
    }
}

/// `delete key`
pub fn delete(key: &str) -> Request {
    Request {
        command: Command::Delete(Delete {
            key: Bytes::copy_from_slice(key.as_bytes()),
            ..Delete::default()
        }),
        form: text(TextVerb::Delete),
    }
}

/// `incr key 1`
pub fn incr(key: &str) -> Request {
    Request {
        command: Command::Arith(memkeep_protocol::Arith {
            key: Bytes::copy_from_slice(key.as_bytes()),
            incr: true,
            delta: 1,
            ..Default::default()
        }),
        form: text(TextVerb::Incr),
    }
}

/// An item as a get returns it.
pub fn value(key: &str, data: &str, flags: u32, ttl: i64) -> Value {
    Value {
        key: Bytes::copy_from_slice(key.as_bytes()),
        data: Bytes::copy_from_slice(data.as_bytes()),
        meta: ItemMeta {
            flags,
            ttl,
            ..ItemMeta::default()
        },
    }
}

/// The keys and data of a `Values` reply, `["k=v", ...]`; panics on anything else.
pub fn hits(reply: &Response) -> Vec<String> {
    let Response::Values(values) = reply else {
        panic!("not a Values reply: {reply:?}")
    };
    values
        .iter()
        .map(|v| {
            format!(
                "{}={}",
                String::from_utf8_lossy(&v.key),
                String::from_utf8_lossy(&v.data)
            )
        })
        .collect()
}

/// A pool of `servers` on a ketama ring, each key on `replicas` of them, as the proxy
/// builds a pool with `replicas = N`: one shard per replica (shard `i` sends each key
/// to its replica `i`), and the ring, which says where each key lives.
pub fn replica_shards(servers: &[Fake], replicas: usize) -> (Vec<Shard<Fake>>, Ring) {
    let ring_servers: Vec<Server> = (0..servers.len())
        .map(|i| Server::twemproxy("127.0.0.1", 11211 + i as u16, 1, None))
        .collect();
    let ring = Ring::builder(ring_servers)
        .hash(Hash::Md5)
        .distribution(Distribution::Ketama)
        .build()
        .expect("a ring");
    let shards = (0..replicas)
        .map(|replica| {
            let options = ShardOptions {
                replica,
                ..ShardOptions::default()
            };
            Shard::new(ring.clone(), servers.to_vec(), options)
        })
        .collect();
    (shards, ring)
}

/// The servers holding `key` on `ring`, by index, its first replica first.
pub fn holders(ring: &Ring, key: &str, replicas: usize) -> Vec<usize> {
    ring.replicas_for(key.as_bytes(), replicas).collect()
}

/// Lets spawned background tasks (repairs, async replicas, shadows) run to the end.
pub async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}
