//! Command counters for `stats`: one relaxed atomic per memcached counter, named as
//! memcached names them.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($variant:ident => $name:literal,)*) => {
        /// A command counter, named as in memcached's `stats` output.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)] // each is documented by its memcached name
        pub enum Counter { $($variant,)* }

        impl Counter {
            /// Every counter, in memcached's output order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];

            /// memcached's name for the counter.
            pub fn name(self) -> &'static str {
                match self { $(Counter::$variant => $name,)* }
            }
        }
    };
}

counters! {
    CmdGet => "cmd_get",
    CmdSet => "cmd_set",
    CmdFlush => "cmd_flush",
    CmdTouch => "cmd_touch",
    CmdMeta => "cmd_meta",
    GetHits => "get_hits",
    GetMisses => "get_misses",
    GetExpired => "get_expired",
    GetFlushed => "get_flushed",
    DeleteMisses => "delete_misses",
    DeleteHits => "delete_hits",
    IncrMisses => "incr_misses",
    IncrHits => "incr_hits",
    DecrMisses => "decr_misses",
    DecrHits => "decr_hits",
    CasMisses => "cas_misses",
    CasHits => "cas_hits",
    CasBadval => "cas_badval",
    TouchHits => "touch_hits",
    TouchMisses => "touch_misses",
    StoreTooLarge => "store_too_large",
    StoreNoMemory => "store_no_memory",
    AuthCmds => "auth_cmds",
    AuthErrors => "auth_errors",
}

/// The command counters of one server.
#[derive(Debug)]
pub struct CommandCounters {
    values: Vec<AtomicU64>,
}

impl Default for CommandCounters {
    fn default() -> Self {
        CommandCounters {
            values: Counter::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl CommandCounters {
    /// Adds `n` to a counter.
    pub fn add(&self, counter: Counter, n: u64) {
        self.values[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(&self, counter: Counter) -> u64 {
        self.values[counter as usize].load(Ordering::Relaxed)
    }

    /// Zeroes every counter (`stats reset`).
    pub fn reset(&self) {
        for v in &self.values {
            v.store(0, Ordering::Relaxed);
        }
    }
}
