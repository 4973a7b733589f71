//! Crafted API Gateway requests, in both payload formats lambda_http accepts,
//! with the claims a JWT authorizer would have verified.

use lambda_http::Request;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// HTTP API, payload format 2.0.
    HttpV2,
    /// REST API, payload format 1.0.
    RestV1,
}

pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Vec<(&'a str, &'a str)>,
    pub claims: Option<Value>,
    pub body: Option<String>,
    pub idempotency_key: Option<&'a str>,
    pub format: Format,
    /// The `Host` header the caller sent (the gateway's own domain unless set).
    pub host: &'a str,
}

impl<'a> Call<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            claims: None,
            body: None,
            idempotency_key: None,
            format: Format::HttpV2,
            host: "api.livesite.example",
        }
    }

    /// A `Host` header other than the gateway's domain (a forged one).
    pub fn host(mut self, h: &'a str) -> Self {
        self.host = h;
        self
    }

    pub fn claims(mut self, c: Value) -> Self {
        self.claims = Some(c);
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self
    }

    pub fn raw(mut self, body: &str) -> Self {
        self.body = Some(body.to_string());
        self
    }

    pub fn key(mut self, k: &'a str) -> Self {
        self.idempotency_key = Some(k);
        self
    }

    pub fn query(mut self, k: &'a str, v: &'a str) -> Self {
        self.query.push((k, v));
        self
    }

    pub fn format(mut self, f: Format) -> Self {
        self.format = f;
        self
    }

    pub fn request(&self) -> Request {
        let mut headers = json!({"content-type": "application/json", "host": self.host});
        if let Some(k) = self.idempotency_key {
            headers["idempotency-key"] = json!(k);
        }
        let event = match self.format {
            Format::HttpV2 => {
                let mut ctx = json!({
                    "accountId": "123456789012", "apiId": "api", "domainName": "api.livesite.example",
                    "domainPrefix": "api", "requestId": "req", "routeKey": "$default", "stage": "$default",
                    "time": "27/Nov/2026:10:00:00 +0000", "timeEpoch": 1795773600000u64,
                    "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests"},
                });
                if let Some(c) = &self.claims {
                    ctx["authorizer"] = json!({"jwt": {"claims": c, "scopes": null}});
                }
                json!({
                    "version": "2.0", "routeKey": "$default", "rawPath": self.path,
                    "rawQueryString": self.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"),
                    "queryStringParameters": (!self.query.is_empty()).then(|| self.query.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()),
                    "headers": headers, "requestContext": ctx,
                    "body": self.body, "isBase64Encoded": false,
                })
            }
            Format::RestV1 => {
                let mut ctx = json!({
                    "accountId": "123456789012", "resourceId": "r", "stage": "prod", "requestId": "req",
                    "identity": {"sourceIp": "127.0.0.1", "userAgent": "tests"}, "resourcePath": "/{proxy+}",
                    "httpMethod": self.method, "apiId": "api", "path": format!("/prod{}", self.path),
                });
                if let Some(c) = &self.claims {
                    ctx["authorizer"] = json!({"claims": c});
                }
                let multi: serde_json::Map<String, Value> = headers
                    .as_object()
                    .map(|h| h.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
                    .unwrap_or_default();
                json!({
                    "resource": "/{proxy+}", "path": self.path, "httpMethod": self.method,
                    "headers": headers, "multiValueHeaders": multi,
                    "queryStringParameters": (!self.query.is_empty()).then(|| self.query.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()),
                    "multiValueQueryStringParameters": (!self.query.is_empty()).then(|| self.query.iter().map(|(k, v)| (k.to_string(), json!([v]))).collect::<serde_json::Map<_, _>>()),
                    "pathParameters": null, "stageVariables": null,
                    "requestContext": ctx, "body": self.body, "isBase64Encoded": false,
                })
            }
        };
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
    }
}

/// `call` answered by `api` at `now`: its status and its JSON body (null
/// when it has none). The request is built at once, so the answer borrows
/// only the API.
pub fn answer<'a, S, N>(
    api: &'a livesite_api_fn::Api<S, N>,
    call: Call<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> impl std::future::Future<Output = (u16, Value)> + 'a
where
    S: livesite_core::ports::Store
        + livesite_core::ports::RecordStore
        + livesite_core::ports::OperatorRegistry
        + livesite_core::ports::RateLimiter,
    N: livesite_core::ports::Notifier,
{
    let req = call.request();
    async move {
        let r = api.handle(req, now).await;
        let body = match r.body() {
            lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (r.status().as_u16(), body)
    }
}

pub fn admin() -> Value {
    json!({"scope": "livesite/admin", "client_id": "dynamo-team"})
}

pub fn client(id: &str) -> Value {
    json!({"scope": "livesite/partner", "client_id": id})
}
