//! A layer of your own in the stack: every key is stored under a tenant's prefix
//! (`PREFIX` + key) on the servers, and clients see their keys without it. Any tower
//! `Layer` over a `Service<Request, Response = Response>` fits the same way.
//!
//! `custom_layer LISTEN PREFIX SERVER...`, e.g. `custom_layer 127.0.0.1:22124 tenant1: 127.0.0.1:11211`

use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt};
use memkeep_protocol::{Command, Request, Response};
use memkeep_proxy::build::Builder;
use memkeep_proxy::config::PoolConfig;
use memkeep_proxy::BoxError;
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};
use tower::{Layer, Service};

/// Puts `prefix` before every key on the way in and takes it off on the way out.
#[derive(Clone)]
struct KeyPrefix<S> {
    inner: S,
    prefix: Bytes,
}

impl<S> Service<Request> for KeyPrefix<S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let with = |key: &mut Bytes| *key = [&self.prefix[..], &key[..]].concat().into();
        match &mut request.command {
            Command::Get(get) => get.keys.iter_mut().for_each(with),
            Command::Store(store) => with(&mut store.key),
            Command::TooLarge(store) => with(&mut store.key),
            Command::Delete(delete) => with(&mut delete.key),
            Command::Arith(arith) => with(&mut arith.key),
            Command::Touch(touch) => with(&mut touch.key),
            Command::Debug(key) => with(key),
            _ => {}
        }
        let strip = self.prefix.len();
        self.inner
            .call(request)
            .map(move |reply| match reply? {
                Response::Values(mut values) => {
                    values.iter_mut().for_each(|v| v.key = v.key.slice(strip..));
                    Ok(Response::Values(values))
                }
                other => Ok(other),
            })
            .boxed()
    }
}

/// Adds [`KeyPrefix`] over a stack.
struct KeyPrefixLayer(Bytes);

impl<S> Layer<S> for KeyPrefixLayer {
    type Service = KeyPrefix<S>;

    fn layer(&self, inner: S) -> KeyPrefix<S> {
        KeyPrefix {
            inner,
            prefix: self.0.clone(),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: custom_layer LISTEN PREFIX SERVER...";
    let (listen, prefix) = (args.next().ok_or(usage)?, args.next().ok_or(usage)?);
    let pool = PoolConfig::new(args.map(|server| format!("{server}:1")).collect());
    let pool = Builder::new().pool("tenants", &pool)?;
    // Over the whole pool here; it fits as well over each copy under a route, or
    // between the layers of a stack built by hand.
    let service = KeyPrefixLayer(Bytes::from(prefix)).layer(pool.service());

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    println!(
        "listening on {}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let config = ServeConfig::new(1024, ConnectionConfig::default());
    serve(
        Listener::Tcp(listener),
        service,
        config,
        std::future::pending(),
    )
    .await;
    Ok(())
}
