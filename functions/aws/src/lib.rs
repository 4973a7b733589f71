//! AWS adapters for livesite's ports: the DynamoDB store and operator
//! registry, the SNS pager and the SES mailer, and the functions' settings.

pub mod dynamo;
pub mod migrate;
#[cfg(feature = "notify")]
pub mod notify;
pub mod settings;

pub use dynamo::{DynamoStore, Tables};
#[cfg(feature = "notify")]
pub use notify::{AwsNotifier, SesMailer, SnsPager};
pub use settings::Settings;
