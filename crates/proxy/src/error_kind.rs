//! What went wrong with a request to a backend, sorted once: the counters, the eject
//! layer's breaker, failover and the admin listener's metrics all ask [`Failure::of`]
//! instead of each downcasting the error to the types they know.

use std::error::Error;

use crate::backend::{BackendError, ErrorKind};
use crate::layer::eject::Ejected;
use crate::layer::timeout::Elapsed;

/// Why a backend's stack failed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No reply in time: the timeout layer's [`Elapsed`], or the backend's own
    /// [`ErrorKind::Timeout`].
    Timeout,
    /// Refused at the eject layer's gate ([`Ejected`]): never sent.
    Ejected,
    /// The server is down ([`ErrorKind::Down`]): never sent.
    Down,
    /// Refused by the backend's queue limits ([`ErrorKind::Overloaded`]): never sent.
    Overloaded,
    /// The server sent something that is not a reply ([`ErrorKind::Protocol`]).
    Protocol,
    /// Lost with a connection reset after an unreadable reply ([`ErrorKind::Reset`]).
    Reset,
    /// Anything else: the connection closed with the request on it, or an error
    /// of some other layer.
    Other,
}

impl Failure {
    /// The causes the admin listener's metrics name (see [`Failure::metric_cause`]);
    /// everything else counts as "other".
    pub const METRIC_CAUSES: [&'static str; 4] = ["timeout", "ejected", "down", "overloaded"];

    /// Sorts an error by its own type (not its sources: a layer that wraps an error
    /// made it its own failure).
    pub fn of(error: &(dyn Error + Send + Sync + 'static)) -> Failure {
        if error.is::<Elapsed>() {
            return Failure::Timeout;
        }
        if error.is::<Ejected>() {
            return Failure::Ejected;
        }
        match error.downcast_ref::<BackendError>().map(BackendError::kind) {
            Some(ErrorKind::Timeout) => Failure::Timeout,
            Some(ErrorKind::Down) => Failure::Down,
            Some(ErrorKind::Overloaded) => Failure::Overloaded,
            Some(ErrorKind::Protocol) => Failure::Protocol,
            Some(ErrorKind::Reset) => Failure::Reset,
            Some(ErrorKind::Closed) | None => Failure::Other,
        }
    }

    /// Whether the request never left the proxy (the server was down, its backend
    /// full, or it was ejected), so it may go to another replica whatever it is.
    pub fn never_sent(self) -> bool {
        matches!(self, Failure::Ejected | Failure::Down | Failure::Overloaded)
    }

    /// Whether the failure says the server is unwell, for the eject layer's count of
    /// consecutive failures. Not a request the backend refused for its own queue
    /// limits (it never reached the server: a burst must not eject a server that
    /// answers; a silent one fails by timeouts anyway), nor a reply the proxy could
    /// not read or a request lost with the connection reset after one (the server
    /// answered, and the connection is made again at once).
    pub fn counts_against_server(self) -> bool {
        !matches!(
            self,
            Failure::Overloaded | Failure::Protocol | Failure::Reset
        )
    }

    /// The cause's name in the admin listener's metrics, one of
    /// [`Failure::METRIC_CAUSES`], or `None` for "other".
    pub fn metric_name(self) -> Option<&'static str> {
        match self {
            Failure::Timeout => Some("timeout"),
            Failure::Ejected => Some("ejected"),
            Failure::Down => Some("down"),
            Failure::Overloaded => Some("overloaded"),
            Failure::Protocol | Failure::Reset | Failure::Other => None,
        }
    }

    /// [`Failure::of`] then [`Failure::metric_name`]: the classifier the admin
    /// crate's `RequestMetrics` takes.
    pub fn metric_cause(error: &(dyn Error + Send + Sync + 'static)) -> Option<&'static str> {
        Failure::of(error).metric_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoxError;

    fn backend(kind: ErrorKind) -> BoxError {
        BackendError::new(kind, "127.0.0.1:1".into()).into()
    }

    #[test]
    fn errors_sort_by_their_own_type() {
        let cases: [(BoxError, Failure); 8] = [
            (Elapsed(()).into(), Failure::Timeout),
            (Ejected(()).into(), Failure::Ejected),
            (backend(ErrorKind::Timeout), Failure::Timeout),
            (backend(ErrorKind::Down), Failure::Down),
            (backend(ErrorKind::Overloaded), Failure::Overloaded),
            (backend(ErrorKind::Protocol), Failure::Protocol),
            (backend(ErrorKind::Closed), Failure::Other),
            ("something else".into(), Failure::Other),
        ];
        for (error, failure) in cases {
            assert_eq!(Failure::of(&*error), failure, "{error}");
        }
        let never_sent: Vec<_> = [Failure::Ejected, Failure::Down, Failure::Timeout]
            .map(Failure::never_sent)
            .into();
        assert_eq!(never_sent, [true, true, false]);
        assert!(!Failure::Overloaded.counts_against_server());
        assert!(Failure::Timeout.counts_against_server());
        assert_eq!(
            Failure::metric_cause(&*backend(ErrorKind::Down)),
            Some("down")
        );
        assert_eq!(Failure::metric_cause(&*backend(ErrorKind::Reset)), None);
    }
}
