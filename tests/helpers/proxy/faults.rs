//! Faults injected on the way to the emulator: throttling, errors, delays.

use super::*;

/// What an injected fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// DynamoDB's ThrottlingException (400, retryable).
    Throttle,
    /// A server error (500; InternalServerError / InternalError).
    ServerError,
    /// A refusal no retry can change (400 ValidationException).
    Invalid,
}

/// A fault injected into the next `count` calls of `action` on a resource
/// containing `resource` whose request body contains `body` (if given).
#[derive(Debug, Clone)]
pub struct Fault {
    pub action: String,
    pub resource: String,
    pub body: Option<String>,
    pub count: usize,
    pub kind: FaultKind,
}

impl Fault {
    pub fn new(action: &str, resource: &str, count: usize, kind: FaultKind) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            body: None,
            count,
            kind,
        }
    }

    pub fn when_body_has(mut self, text: &str) -> Self {
        self.body = Some(text.into());
        self
    }
}

pub(super) fn fault_response(kind: FaultKind, json_protocol: bool) -> Response<Full<Bytes>> {
    let (status, code) = match kind {
        FaultKind::Throttle => (400, "ThrottlingException"),
        FaultKind::ServerError if json_protocol => (500, "InternalServerError"),
        FaultKind::ServerError => (500, "InternalError"),
        FaultKind::Invalid => (400, "ValidationException"),
    };
    let (content_type, body) = if json_protocol {
        (
            "application/x-amz-json-1.0",
            json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": "injected fault"}).to_string(),
        )
    } else {
        (
            "text/xml",
            format!("<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>injected fault</Message></Error><RequestId>fault</RequestId></ErrorResponse>"),
        )
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}
