//! memcached's wire protocols, sans-IO: the classic text protocol, the meta protocol
//! and the binary protocol, decoded into one request model and encoded back byte for
//! byte as memcached 1.6 writes them.
//!
//! ```
//! use bytes::BytesMut;
//! use memkeep_protocol::{encode_response, Command, Decoder, ItemMeta, Response};
//!
//! let mut decoder = Decoder::default();
//! let mut buf = BytesMut::from(&b"set greeting 5 0 5\r\nhello\r\n"[..]);
//! let request = decoder.decode(&mut buf).unwrap().unwrap();
//! let Command::Store(store) = &request.command else { panic!() };
//! assert_eq!(&store.data[..], b"hello");
//!
//! let mut out = BytesMut::new();
//! encode_response(&request.form, &Response::Stored(ItemMeta::default()), &mut out);
//! assert_eq!(&out[..], b"STORED\r\n");
//! ```
//!
//! Keys and values are [`bytes::Bytes`] slices of the read buffer: decoding copies
//! nothing but the small request structure. Limits ([`Limits`]) are checked before
//! anything is buffered.

mod admin;
pub mod binary;
mod codec;
mod error;
mod form;
mod limits;
pub mod meta;
mod request;
mod response;
pub mod text;

pub use admin::{Admin, Ratio, WatchEvents};
pub use codec::{decode_response, encode_request, encode_response, Binding, Decoder};
pub use error::{DecodeError, InvalidResponse, ProtocolError};
pub use form::{BinaryForm, Dialect, Form, MetaForm, MetaVerb, ReturnFlags, TextForm, TextVerb};
pub use limits::Limits;
pub use request::{
    Arith, Command, Delete, FlushAll, Get, MetadumpScope, Request, Sasl, Store, StoreMode,
    TooLarge, Touch, Vivify,
};
pub use response::{ItemMeta, Response, Value};
pub use text::metadump::MetadumpEntry;
pub use text::number::strtoull;
