//! Errors answered as `application/problem+json` (RFC 9457), and the JSON
//! bodies the handlers read and answer.

use lambda_http::{Body, Response};
use livesite_core::partner::FieldError;
use livesite_core::ports::StoreError;
use livesite_core::service::partner::PartnerError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct Problem {
    pub status: u16,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// For 405: the methods the resource does allow.
    pub allow: Option<String>,
    /// For 429: the seconds until a retry can succeed.
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: u16, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title,
            detail: detail.into(),
            errors: vec![],
            allow: None,
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(404, "Not Found", "no such resource")
    }

    pub fn forbidden() -> Self {
        Self::new(403, "Forbidden", "this operation is for the DYNAMO team")
    }

    pub fn invalid(e: FieldError) -> Self {
        Self {
            errors: vec![e.clone()],
            ..Self::new(422, "Unprocessable Content", e.to_string())
        }
    }

    /// 422 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(FieldError {
            field: field.into(),
            message: message.into(),
        })
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, "Conflict", detail)
    }

    pub fn not_allowed(method: &str, path: &str, allow: String) -> Self {
        Self {
            allow: Some(allow.clone()),
            ..Self::new(
                405,
                "Method Not Allowed",
                format!("{method} is not allowed on {path}; use {allow}"),
            )
        }
    }

    /// 429 with the seconds until the next window.
    pub fn too_many(wait: u64) -> Self {
        Self {
            retry_after: Some(wait),
            ..Self::new(
                429,
                "Too Many Requests",
                format!("this operator's request rate is over its limit; retry in {wait} s"),
            )
        }
    }
}

impl From<PartnerError> for Problem {
    fn from(e: PartnerError) -> Self {
        match e {
            PartnerError::Invalid(e) => Self::invalid(e),
            PartnerError::NotFound => Self::not_found(),
            PartnerError::Forbidden(why) => Self::new(403, "Forbidden", why),
            PartnerError::Conflict(why) => Self::conflict(why),
            PartnerError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        if let StoreError::Conflict(what) = &e {
            // Lost a race every retry: the client may simply try again.
            tracing::warn!(error = %e, "write conflict");
            return Self::conflict(format!("{what}; retry"));
        }
        tracing::error!(error = %e, "store failure");
        Self::new(
            503,
            "Service Unavailable",
            "the store is unavailable; retry with the same Idempotency-Key",
        )
    }
}

/// What a handler answers: a status and a JSON body, or a problem.
pub type Reply = Result<(u16, Value), Problem>;

pub fn json_response(status: u16, body: &Value, content_type: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

pub fn problem_response(p: &Problem) -> Response<Body> {
    let body = json!({
        "type": "about:blank",
        "title": p.title,
        "status": p.status,
        "detail": p.detail,
        "errors": p.errors,
    });
    let mut r = json_response(p.status, &body, "application/problem+json");
    if let Some(allow) = p
        .allow
        .as_deref()
        .and_then(|a| lambda_http::http::HeaderValue::from_str(a).ok())
    {
        r.headers_mut().insert("allow", allow);
    }
    if let Some(wait) = p.retry_after {
        r.headers_mut()
            .insert("retry-after", lambda_http::http::HeaderValue::from(wait));
    }
    r
}

/// A request body as `T`, the failing field named by its path
/// (serde_path_to_error: `aware_at`, `contacts[1]`), a missing one by its
/// name, and `body` when the body as a whole is wrong.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // `.` is the body itself, `?` a place serde could not name.
        let path = match e.path().to_string() {
            p if p == "?" => ".".to_string(),
            p => p,
        };
        let message = e.into_inner().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_string(),
            (".", None) => "body".to_string(),
            (_, Some(name)) => format!("{path}.{name}"),
            (_, None) => path,
        };
        Problem::field(&field, message)
    })?;
    de.end()
        .map_err(|e| Problem::field("body", e.to_string()))?;
    Ok(value)
}

pub fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
