//! Delivery over AWS: pages to an SNS topic, email through SES.

use aws_sdk_ses::types::{Body, Content, Destination, Message};
use aws_sdk_sns::types::MessageAttributeValue;
use livesite_core::notify::{Channel, Notification};
use livesite_core::ports::{Notifier, NotifyError};

fn failed(key: &str, e: impl std::fmt::Display) -> NotifyError {
    NotifyError {
        key: key.to_string(),
        source: e.to_string().into(),
    }
}

/// Pages: short text for SMS and chat, with message attributes a subscriber
/// can filter and deduplicate on (`dedup_key` is stable across retries).
#[derive(Debug, Clone)]
pub struct SnsPager {
    client: Lazy<aws_sdk_sns::Client>,
    topic_arn: String,
}

/// A client made on first use: most invocations of the evaluator and the
/// API send nothing, so they don't pay for building it at start-up.
#[derive(Clone)]
struct Lazy<C> {
    cell: std::sync::Arc<std::sync::OnceLock<C>>,
    make: std::sync::Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy")
            .field("client", &self.cell.get())
            .finish()
    }
}

impl<C: Clone + Send + Sync + 'static> Lazy<C> {
    fn ready(client: C) -> Self {
        Self::with(move || client.clone())
    }

    fn later(config: &aws_config::SdkConfig, make: fn(&aws_config::SdkConfig) -> C) -> Self {
        let config = config.clone();
        Self::with(move || make(&config))
    }

    fn with(make: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self {
            cell: std::sync::Arc::new(std::sync::OnceLock::new()),
            make: std::sync::Arc::new(make),
        }
    }

    fn get(&self) -> &C {
        self.cell.get_or_init(|| (self.make)())
    }
}

/// One send, all SDK attempts included, may take this long: a slow mail or
/// page service costs a caller at most this per notification (the callers
/// also bound their whole delivery pass in time).
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

fn sns_client(config: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    let conf = aws_sdk_sns::config::Builder::from(config)
        .timeout_config(
            aws_sdk_sns::config::timeout::TimeoutConfig::builder()
                .operation_timeout(SEND_TIMEOUT)
                .build(),
        )
        .build();
    aws_sdk_sns::Client::from_conf(conf)
}

fn ses_client(config: &aws_config::SdkConfig) -> aws_sdk_ses::Client {
    let conf = aws_sdk_ses::config::Builder::from(config)
        .timeout_config(
            aws_sdk_ses::config::timeout::TimeoutConfig::builder()
                .operation_timeout(SEND_TIMEOUT)
                .build(),
        )
        .build();
    aws_sdk_ses::Client::from_conf(conf)
}

impl SnsPager {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client: Lazy::ready(client),
            topic_arn: topic_arn.into(),
        }
    }

    /// Builds its client (with `SEND_TIMEOUT`) on the first page.
    pub fn on_first_use(config: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self {
            client: Lazy::later(config, sns_client),
            topic_arn: topic_arn.into(),
        }
    }

    pub async fn page(&self, n: &Notification) -> Result<(), NotifyError> {
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| failed(&n.key, e))
        };
        let severity = n.severity.map_or("none".to_string(), |s| s.to_string());
        let mut req = self
            .client
            .get()
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(&n.subject))
            .message(&n.text)
            .message_attributes("severity", attr(&severity)?)
            .message_attributes("operator", attr(n.operator.as_str())?)
            .message_attributes("event", attr(n.topic.as_str())?)
            .message_attributes("dedup_key", attr(&n.key)?);
        if let Some(id) = &n.incident_id {
            req = req.message_attributes("incident_id", attr(id)?);
        }
        req.send()
            .await
            .map_err(|e| failed(&n.key, aws_sdk_sns::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

/// SNS subjects are ASCII, at most 100 characters, no line breaks.
fn sns_subject(raw: &str) -> String {
    let ascii: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .collect();
    ascii.trim().chars().take(100).collect()
}

/// Email with a plain-text and an HTML part.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Lazy<aws_sdk_ses::Client>,
    /// Used when a notification names no sender.
    default_sender: String,
    /// The configuration set whose event destination reports bounces and
    /// complaints (the alarms in the template watch them).
    configuration_set: Option<String>,
}

impl SesMailer {
    /// Builds its client (with `SEND_TIMEOUT`) on the first email.
    pub fn on_first_use(config: &aws_config::SdkConfig, default_sender: impl Into<String>) -> Self {
        Self {
            client: Lazy::later(config, ses_client),
            default_sender: default_sender.into(),
            configuration_set: None,
        }
    }

    pub fn new(client: aws_sdk_ses::Client, default_sender: impl Into<String>) -> Self {
        Self {
            client: Lazy::ready(client),
            default_sender: default_sender.into(),
            configuration_set: None,
        }
    }

    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }

    pub async fn mail(&self, n: &Notification) -> Result<(), NotifyError> {
        if !n.images.is_empty() {
            return self.mail_raw(n).await;
        }
        let utf8 = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| failed(&n.key, e))
        };
        let to: Vec<String> = n.to.iter().map(|a| a.to_string()).collect();
        let cc: Vec<String> = n.cc.iter().map(|a| a.to_string()).collect();
        if to.is_empty() && cc.is_empty() {
            return Err(failed(&n.key, "no recipients"));
        }
        let destination = Destination::builder()
            .set_to_addresses(Some(to))
            .set_cc_addresses(Some(cc))
            .build();
        let message = Message::builder()
            .subject(utf8(&n.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&n.text)?)
                    .html(utf8(n.html.as_deref().unwrap_or(&html(n)))?)
                    .build(),
            )
            .build();
        let from = n
            .from
            .as_ref()
            .map_or(self.default_sender.clone(), |a| a.to_string());
        self.client
            .get()
            .send_email()
            .source(from)
            .destination(destination)
            .message(message)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| failed(&n.key, aws_sdk_ses::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

impl SesMailer {
    /// An email with images: built as MIME (`mime`) and sent with
    /// SendRawEmail, which the sender's identity and the configuration set
    /// grant like SendEmail.
    async fn mail_raw(&self, n: &Notification) -> Result<(), NotifyError> {
        let from = n
            .from
            .as_ref()
            .map_or(self.default_sender.clone(), |a| a.to_string());
        let raw = mime(n, &from).map_err(|e| failed(&n.key, e))?;
        let message = aws_sdk_ses::types::RawMessage::builder()
            .data(aws_sdk_ses::primitives::Blob::new(raw))
            .build()
            .map_err(|e| failed(&n.key, e))?;
        self.client
            .get()
            .send_raw_email()
            .source(from)
            .set_destinations(Some(
                n.to.iter().chain(&n.cc).map(|a| a.to_string()).collect(),
            ))
            .raw_message(message)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| failed(&n.key, aws_sdk_ses::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

/// The email as mail clients expect one with pictures: the text part and,
/// as its alternative, the HTML part related to its images, each image
/// shown by its Content-ID (`<img src="cid:...">`).
pub fn mime(n: &Notification, from: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use mail_builder::mime::MimePart;
    if n.to.is_empty() && n.cc.is_empty() {
        return Err("no recipients".into());
    }
    let mut related = vec![MimePart::new(
        "text/html",
        n.html.clone().unwrap_or_else(|| html(n)),
    )];
    for image in &n.images {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&image.base64)
            .map_err(|e| format!("image {}: {e}", image.content_id))?;
        related.push(
            MimePart::new(image.content_type.clone(), bytes)
                .inline()
                .cid(image.content_id.clone()),
        );
    }
    let body = MimePart::new(
        "multipart/alternative",
        vec![
            MimePart::new("text/plain", n.text.clone()),
            MimePart::new("multipart/related", related),
        ],
    );
    let list =
        |a: &[livesite_core::EmailAddress]| a.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut message = mail_builder::MessageBuilder::new()
        .from(from.to_string())
        .subject(n.subject.clone())
        .body(body);
    if !n.to.is_empty() {
        message = message.to(list(&n.to));
    }
    if !n.cc.is_empty() {
        message = message.cc(list(&n.cc));
    }
    message.write_to_vec().map_err(|e| e.to_string())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML part: the same text, escaped, in a readable layout.
pub fn html(n: &Notification) -> String {
    let colour = match n.severity {
        Some(livesite_core::Severity::High) => "#b00020",
        _ => "#8a6d00",
    };
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <h2 style=\"color:{colour}\">{subject}</h2>\
         <pre style=\"font-family:inherit;white-space:pre-wrap\">{body}</pre>\
         <p style=\"color:#666;font-size:small\">livesite · DYNAMO live-site monitor · ref {key}</p>\
         </body></html>",
        subject = escape(&n.subject),
        body = escape(&n.text),
        key = escape(&n.key),
    )
}

/// Routes each notification to its channel.
#[derive(Debug, Clone)]
pub struct AwsNotifier {
    pub pager: SnsPager,
    pub mailer: SesMailer,
}

impl Notifier for AwsNotifier {
    async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        match n.channel {
            Channel::Page => self.pager.page(n).await,
            Channel::Email => self.mailer.mail(n).await,
        }
    }
}
