//! `refresh_certs`: the server reads its TLS certificate files again, as on SIGHUP,
//! and `stats` tells how long ago that last succeeded (memcached's
//! `time_since_server_cert_refresh`).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use memkeep_protocol::Response;

/// Re-reads the certificate files and hands new handshakes the result; the error
/// says which file could not be used, in memcached's words.
pub type Reload = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The TLS side of a server, for the cache service: present when TLS is on.
pub struct CertRefresh {
    reload: Reload,
    started: Instant,
    /// Seconds from `started` to the last successful load.
    last_loaded: AtomicU64,
}

impl std::fmt::Debug for CertRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertRefresh")
            .field("last_loaded", &self.last_loaded)
            .finish_non_exhaustive()
    }
}

impl CertRefresh {
    /// For certificates loaded just now, reloaded by `reload`.
    pub fn new(reload: Reload) -> CertRefresh {
        CertRefresh {
            reload,
            started: Instant::now(),
            last_loaded: AtomicU64::new(0),
        }
    }

    /// Reloads (`refresh_certs`, SIGHUP); a failure keeps the running certificates.
    pub fn reload(&self) -> Result<(), String> {
        (self.reload)()?;
        self.last_loaded
            .store(self.started.elapsed().as_secs(), Ordering::Relaxed);
        Ok(())
    }

    /// Reloads; the reply to `refresh_certs`.
    pub fn refresh(&self) -> Response {
        match self.reload() {
            Ok(()) => Response::Ok,
            Err(message) => Response::ErrorLine(Cow::Owned(message)),
        }
    }

    /// Seconds since the certificates were last loaded.
    pub fn seconds_since_loaded(&self) -> u64 {
        self.started
            .elapsed()
            .as_secs()
            .saturating_sub(self.last_loaded.load(Ordering::Relaxed))
    }
}

/// The reply to `refresh_certs` on a server without TLS, memcached's.
pub(super) fn not_enabled() -> Response {
    Response::ErrorLine(Cow::Borrowed("Error TLS not enabled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_reload_says_why_and_keeps_the_last_load_time() {
        let ok = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = ok.clone();
        let refresh = CertRefresh::new(Arc::new(move || {
            if flag.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err("Error loading the certificate chain: /x : no such file".into())
            }
        }));
        assert_eq!(refresh.refresh(), Response::Ok);
        ok.store(false, Ordering::Relaxed);
        assert_eq!(
            refresh.refresh(),
            Response::ErrorLine(Cow::Borrowed(
                "Error loading the certificate chain: /x : no such file"
            ))
        );
        assert_eq!(refresh.seconds_since_loaded(), 0);
    }
}
