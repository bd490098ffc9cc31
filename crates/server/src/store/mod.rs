//! The cache store: sharded, memory-bounded, with memcached's item semantics.
