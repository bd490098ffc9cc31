//! Errors at the service boundary and the one place they become wire replies.

use memkeep_protocol::Response;

/// The error type services exchange (tower's own); layers define small named errors
/// inside it.
pub use tower::BoxError;

/// The reply a client gets when a service fails: `SERVER_ERROR <message>`, as
/// memcached words its own server-side failures.
pub fn error_response(error: &BoxError) -> Response {
    Response::ServerError(error.to_string().into())
}
