//! The client: typed memcached commands, each sent as one [`Request`] down the routed
//! stack and its [`Response`] read back into a plain Rust value.

use std::collections::HashMap;

use bytes::Bytes;
use memkeep_protocol::{
    Arith, Command, Delete, Form, Get, Request, Response, Store, StoreMode, TextForm, TextVerb,
    Touch, Value,
};
use memkeep_proxy::config::{nutcracker_tree, NutcrackerConfig, RouteConfig};
use memkeep_proxy::BoxError;
use tower::{Service, ServiceExt};

use crate::builder::Builder;
use crate::stack;
use crate::Error;
use memkeep_proxy::build::SharedService;

/// The longest key memcached accepts.
const MAX_KEY_LEN: usize = 250;

/// A memcached client routing each request the way memkeep-proxy would. Cheap to
/// clone: clones share the connections and the routing state (ejections, missed
/// writes). Build it inside a tokio runtime; its connections are made in the
/// background and remade when a server comes back.
#[derive(Clone)]
pub struct Client {
    service: SharedService,
}

/// An item read from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The value.
    pub value: Bytes,
    /// The opaque client flags stored with it.
    pub flags: u32,
}

/// What a compare-and-swap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The value was stored.
    Stored,
    /// The item changed since it was read (its CAS unique differs): not stored.
    Exists,
    /// The item is gone: not stored.
    NotFound,
}

impl Client {
    /// A builder for a client over a list of servers.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A client routing as memkeep-proxy's first listener does under `config`.
    pub fn from_config(config: &RouteConfig) -> Result<Client, Error> {
        let listener = config
            .listeners
            .first()
            .ok_or_else(|| Error::Config("no listeners".into()))?;
        Self::from_route(config, &listener.route)
    }

    /// A client routing as the pool or route named `route` of `config` does.
    pub fn from_route(config: &RouteConfig, route: &str) -> Result<Client, Error> {
        let service = stack::build(config, route).map_err(Error::Config)?;
        Ok(Client { service })
    }

    /// A client routing as memkeep-proxy does with this TOML route tree (the text of
    /// its `--config` file), by its first listener's route.
    pub fn from_toml(text: &str) -> Result<Client, Error> {
        let config: RouteConfig = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        Self::from_config(&config)
    }

    /// A client routing as memkeep-proxy (and twemproxy) do for pool `pool` of a
    /// `nutcracker.yml`.
    pub fn from_nutcracker(config: &NutcrackerConfig, pool: &str) -> Result<Client, Error> {
        let tree = nutcracker_tree(config).map_err(|e| Error::Config(e.to_string()))?;
        if !tree.pools.contains_key(pool) {
            return Err(Error::Config(format!("no pool named {pool:?}")));
        }
        Self::from_route(&tree, pool)
    }

    /// A client over any service that answers memcached requests: a stack of the
    /// proxy's layers assembled by hand, or an in-process cache.
    pub fn from_service<S>(service: S) -> Client
    where
        S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        Client {
            service: SharedService::new(service),
        }
    }

    /// The item stored under `key`; `None` on a miss.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Item>, Error> {
        Ok(self.read(TextVerb::Get, key).await?.map(item))
    }

    /// The item stored under `key` and its CAS unique, for [`Client::cas`]; `None`
    /// on a miss.
    pub async fn gets(&self, key: impl AsRef<[u8]>) -> Result<Option<(Item, u64)>, Error> {
        Ok(self.read(TextVerb::Gets, key).await?.map(|value| {
            let cas = value.meta.cas;
            (item(value), cas)
        }))
    }

    /// The items found among `keys`, by key (misses are absent). Keys are grouped
    /// by server and each server is asked once.
    pub async fn get_many<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<Bytes, Item>, Error> {
        let keys = keys
            .into_iter()
            .map(|k| checked_key(k.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let get = Get {
            keys,
            ..Get::default()
        };
        match self.call(Command::Get(get), TextVerb::Get).await? {
            Response::Values(values) => Ok(values
                .into_iter()
                .map(|v| (v.key.clone(), item(v)))
                .collect()),
            other => Err(Error::from_reply(other)),
        }
    }

    /// Stores `value` under `key`, with `flags` and a time to live in seconds
    /// (0: never expires; more than 30 days: a unix time, as memcached reads it).
    pub async fn set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Bytes>,
        flags: u32,
        ttl: u32,
    ) -> Result<(), Error> {
        let stored = self
            .store(StoreMode::Set, key, value.into(), flags, ttl, None)
            .await?;
        match stored {
            Response::Stored(_) => Ok(()),
            other => Err(Error::from_reply(other)),
        }
    }

    /// Stores `value` only if `key` holds nothing; `false` if it does.
    pub async fn add(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Bytes>,
        flags: u32,
        ttl: u32,
    ) -> Result<bool, Error> {
        let reply = self
            .store(StoreMode::Add, key, value.into(), flags, ttl, None)
            .await?;
        stored(reply)
    }

    /// Stores `value` only if `key` holds an item; `false` if it does not.
    pub async fn replace(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Bytes>,
        flags: u32,
        ttl: u32,
    ) -> Result<bool, Error> {
        let reply = self
            .store(StoreMode::Replace, key, value.into(), flags, ttl, None)
            .await?;
        stored(reply)
    }

    /// Adds `value` after the item's value; `false` if `key` holds nothing.
    pub async fn append(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Bytes>,
    ) -> Result<bool, Error> {
        let reply = self
            .store(StoreMode::Append, key, value.into(), 0, 0, None)
            .await?;
        stored(reply)
    }

    /// Adds `value` before the item's value; `false` if `key` holds nothing.
    pub async fn prepend(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Bytes>,
    ) -> Result<bool, Error> {
        let reply = self
            .store(StoreMode::Prepend, key, value.into(), 0, 0, None)
            .await?;
        stored(reply)
    }

    /// Stores `value` only if the item's CAS unique is still `cas` (from
    /// [`Client::gets`]).
    pub async fn cas(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Bytes>,
        flags: u32,
        ttl: u32,
        cas: u64,
    ) -> Result<CasOutcome, Error> {
        let reply = self
            .store(StoreMode::Set, key, value.into(), flags, ttl, Some(cas))
            .await?;
        match reply {
            Response::Stored(_) => Ok(CasOutcome::Stored),
            Response::Exists => Ok(CasOutcome::Exists),
            Response::NotFound => Ok(CasOutcome::NotFound),
            other => Err(Error::from_reply(other)),
        }
    }

    /// Removes the item; `false` if there was none.
    pub async fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        let delete = Delete {
            key: checked_key(key.as_ref())?,
            ..Delete::default()
        };
        match self.call(Command::Delete(delete), TextVerb::Delete).await? {
            Response::Deleted => Ok(true),
            Response::NotFound => Ok(false),
            other => Err(Error::from_reply(other)),
        }
    }

    /// Adds `delta` to the decimal counter under `key` (wrapping at 2^64) and
    /// answers its new value; `None` if `key` holds nothing.
    pub async fn incr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<Option<u64>, Error> {
        self.arith(key, true, delta, TextVerb::Incr).await
    }

    /// Subtracts `delta` from the decimal counter under `key` (stopping at 0) and
    /// answers its new value; `None` if `key` holds nothing.
    pub async fn decr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<Option<u64>, Error> {
        self.arith(key, false, delta, TextVerb::Decr).await
    }

    /// Gives the item a new time to live; `false` if `key` holds nothing.
    pub async fn touch(&self, key: impl AsRef<[u8]>, ttl: u32) -> Result<bool, Error> {
        let touch = Touch {
            key: checked_key(key.as_ref())?,
            exptime: ttl.into(),
        };
        match self.call(Command::Touch(touch), TextVerb::Touch).await? {
            Response::Touched(_) => Ok(true),
            Response::NotFound => Ok(false),
            other => Err(Error::from_reply(other)),
        }
    }

    async fn read(&self, verb: TextVerb, key: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        let key = checked_key(key.as_ref())?;
        let get = Get {
            keys: vec![key.clone()],
            ..Get::default()
        };
        match self.call(Command::Get(get), verb).await? {
            Response::Values(values) => Ok(values.into_iter().find(|v| v.key == key)),
            other => Err(Error::from_reply(other)),
        }
    }

    async fn store(
        &self,
        mode: StoreMode,
        key: impl AsRef<[u8]>,
        data: Bytes,
        flags: u32,
        ttl: u32,
        cas: Option<u64>,
    ) -> Result<Response, Error> {
        let verb = match (mode, cas) {
            (_, Some(_)) => TextVerb::Cas,
            (StoreMode::Set, None) => TextVerb::Set,
            (StoreMode::Add, None) => TextVerb::Add,
            (StoreMode::Replace, None) => TextVerb::Replace,
            (StoreMode::Append, None) => TextVerb::Append,
            (StoreMode::Prepend, None) => TextVerb::Prepend,
        };
        let store = Store {
            mode,
            key: checked_key(key.as_ref())?,
            flags,
            exptime: ttl.into(),
            data,
            cas,
            ..Store::default()
        };
        self.call(Command::Store(store), verb).await
    }

    async fn arith(
        &self,
        key: impl AsRef<[u8]>,
        incr: bool,
        delta: u64,
        verb: TextVerb,
    ) -> Result<Option<u64>, Error> {
        let arith = Arith {
            key: checked_key(key.as_ref())?,
            incr,
            delta,
            ..Arith::default()
        };
        match self.call(Command::Arith(arith), verb).await? {
            Response::Number(value, _) => Ok(Some(value)),
            Response::NotFound => Ok(None),
            other => Err(Error::from_reply(other)),
        }
    }

    /// Sends one request down the stack, as a text-protocol client would have sent
    /// it to the proxy (the backends translate it to the dialect their server speaks).
    async fn call(&self, command: Command, verb: TextVerb) -> Result<Response, Error> {
        let request = Request {
            command,
            form: Form::Text(TextForm {
                verb,
                noreply: false,
            }),
        };
        self.service
            .clone()
            .oneshot(request)
            .await
            .map_err(Error::Unavailable)
    }
}

/// The key as memcached accepts it: 1 to 250 bytes, no space or control character.
fn checked_key(key: &[u8]) -> Result<Bytes, Error> {
    let valid =
        !key.is_empty() && key.len() <= MAX_KEY_LEN && key.iter().all(|&b| b > b' ' && b != 0x7f);
    if valid {
        Ok(Bytes::copy_from_slice(key))
    } else {
        Err(Error::InvalidKey)
    }
}

fn item(value: Value) -> Item {
    Item {
        value: value.data,
        flags: value.meta.flags,
    }
}

/// A conditional store's reply: stored, or its condition failed.
fn stored(reply: Response) -> Result<bool, Error> {
    match reply {
        Response::Stored(_) => Ok(true),
        Response::NotStored => Ok(false),
        other => Err(Error::from_reply(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_memcached_rules() {
        assert!(checked_key(b"user:42").is_ok());
        assert!(checked_key(&[b'k'; 250]).is_ok());
        for bad in [&b""[..], &[b'k'; 251], b"a b", b"a\r\nb", b"a\x00", b"\x7f"] {
            assert!(
                matches!(checked_key(bad), Err(Error::InvalidKey)),
                "{bad:?}"
            );
        }
    }
}
