//! The functions' configuration, read once from the environment at start-up.

use crate::dynamo::{DynamoStore, Tables};
#[cfg(feature = "notify")]
use crate::notify::{AwsNotifier, SesMailer, SnsPager};
use livesite_core::{EmailAddress, Policy, Team};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

fn var(name: &'static str) -> Result<String, SettingsError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(SettingsError::Missing(name))
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub tables: Tables,
    pub topic_arn: String,
    /// `MAIL_CONFIGURATION_SET`: the SES configuration set that reports
    /// bounces and complaints; optional for local runs.
    pub mail_configuration_set: Option<String>,
    pub team: Team,
    pub policy: Policy,
}

impl Settings {
    /// `PROBES_TABLE`, `STATE_TABLE`, `PAGE_TOPIC_ARN`, `MAIL_SENDER`,
    /// `TEAM_EMAILS` (comma-separated) and optionally `POLICY_JSON`.
    pub fn from_env() -> Result<Self, SettingsError> {
        let sender =
            EmailAddress::parse(var("MAIL_SENDER")?).map_err(|e| SettingsError::Invalid {
                name: "MAIL_SENDER",
                message: e.to_string(),
            })?;
        let emails = var("TEAM_EMAILS")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(EmailAddress::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SettingsError::Invalid {
                name: "TEAM_EMAILS",
                message: e.to_string(),
            })?;
        let policy = match std::env::var("POLICY_JSON")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(json) => serde_json::from_str(&json).map_err(|e| SettingsError::Invalid {
                name: "POLICY_JSON",
                message: e.to_string(),
            })?,
            None => Policy::default(),
        };
        let policy: Policy = policy;
        policy.validate().map_err(|e| SettingsError::Invalid {
            name: "POLICY_JSON",
            message: e.to_string(),
        })?;
        Ok(Self {
            tables: Tables {
                probes: var("PROBES_TABLE")?,
                state: var("STATE_TABLE")?,
            },
            topic_arn: var("PAGE_TOPIC_ARN")?,
            mail_configuration_set: var("MAIL_CONFIGURATION_SET").ok(),
            team: Team { sender, emails },
            policy,
        })
    }
}

/// Loads the AWS configuration once (region, credentials, and
/// `AWS_ENDPOINT_URL` when set, which is how local runs reach an emulator).
///
/// The SDK's HTTPS client trusts the Mozilla roots compiled into the binary
/// (webpki-root-certs) instead of the system's: the default loader opens and
/// parses every file under the system's certificate directory at start-up,
/// most of the functions' init time (docs/measurements.md), and what a
/// function trusts no longer depends on the image it runs on.
pub async fn aws_config() -> aws_config::SdkConfig {
    let loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client());
    // On Lambda the region and the role's credentials are in the
    // environment: naming them skips building the whole provider chains
    // (profile files, SSO, IMDS), most of what is left of load()'s time.
    let loader = match std::env::var("AWS_REGION") {
        Ok(region) if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() => loader
            .region(aws_config::Region::new(region))
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ),
        _ => loader,
    };
    loader.load().await
}

fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let mut roots = TrustStore::empty().with_native_roots(false);
    for pem in root_pems() {
        roots = roots.with_pem_certificate(pem);
    }
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(roots).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Never expected (the roots are compiled in); the SDK's own roots then.
        Err(_) => builder.build_https(),
    }
}

/// The compiled-in roots, each as PEM (what the SDK's trust store takes).
pub fn root_pems() -> Vec<Vec<u8>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| pem(der.as_ref()))
        .collect()
}

fn pem(der: &[u8]) -> Vec<u8> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut body = Vec::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            body.push(if i <= chunk.len() {
                B64[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    for line in body.chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    out
}

pub fn store(config: &aws_config::SdkConfig, settings: &Settings) -> DynamoStore {
    DynamoStore::new(
        aws_sdk_dynamodb::Client::new(config),
        settings.tables.clone(),
    )
}

#[cfg(feature = "notify")]
pub fn notifier(config: &aws_config::SdkConfig, settings: &Settings) -> AwsNotifier {
    AwsNotifier {
        pager: SnsPager::on_first_use(config, settings.topic_arn.clone()),
        mailer: SesMailer::on_first_use(config, settings.team.sender.to_string())
            .with_configuration_set(settings.mail_configuration_set.clone()),
    }
}
