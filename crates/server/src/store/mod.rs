//! TEMPORARY compile stub (not committed).
#![allow(missing_docs, unused)]
use bytes::Bytes;
use memkeep_protocol::*;
#[derive(Debug)]
pub struct Store;
pub struct StoreConfig {
    pub max_bytes: usize,
    pub evict: bool,
    pub max_item_size: usize,
    pub shards: usize,
}
#[derive(Default)]
pub struct StoreStats {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub limit_maxbytes: u64,
    pub evictions: u64,
    pub expired_unfetched: u64,
    pub evicted_unfetched: u64,
    pub reclaimed: u64,
    pub out_of_memory: u64,
}
impl Store {
    pub fn new(c: StoreConfig) -> Self {
        Store
    }
    pub fn get(&self, k: &Bytes, g: &Get) -> Option<Value> {
        None
    }
    pub fn store(&self, s: &memkeep_protocol::Store) -> Response {
        Response::NotStored
    }
    pub fn delete(&self, s: &Delete) -> Response {
        Response::NotFound
    }
    pub fn arith(&self, s: &Arith) -> Response {
        Response::NotFound
    }
    pub fn touch(&self, k: &Bytes, e: i64) -> Response {
        Response::NotFound
    }
    pub fn flush_all(&self, d: i64) {}
    pub fn debug(&self, k: &Bytes) -> Option<String> {
        None
    }
    pub fn stats(&self) -> StoreStats {
        StoreStats::default()
    }
    pub fn reset_stats(&self) {}
}
