//! The functions' configuration, read once from the environment at start-up.

use crate::dynamo::{DynamoStore, Tables};
#[cfg(feature = "notify")]
use crate::notify::{AwsNotifier, SesMailer, SnsPager};
use livesite_core::{BusinessCalendar, EmailAddress, PhoneNumber, Policy, Team, Tz};
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// The rounds' cadence on AWS, fixed by the stack: the probe's schedule
/// runs once a minute and sends itself a second round this much later. The
/// probe stamps each round's slot on this grid; the evaluator's policy must
/// decide rounds on the same one.
pub const PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Where settings are read from: the environment, or a table in tests.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn var(&self, name: &'static str) -> Result<String, SettingsError> {
        self.optional(name).ok_or(SettingsError::Missing(name))
    }

    /// An optional variable holding JSON, or the type's default.
    fn json_or_default<T: DeserializeOwned + Default>(
        &self,
        name: &'static str,
    ) -> Result<T, SettingsError> {
        self.optional(name).map_or(Ok(T::default()), |json| {
            serde_json::from_str(&json).map_err(|e| invalid(name, e))
        })
    }

    /// A comma-separated list of email addresses (none when unset).
    fn addresses(&self, name: &'static str) -> Result<Vec<EmailAddress>, SettingsError> {
        self.list(name)
            .iter()
            .map(|a| EmailAddress::parse(a).map_err(|e| invalid(name, e)))
            .collect()
    }

    /// A comma-separated list, blanks dropped.
    fn list(&self, name: &'static str) -> Vec<String> {
        self.optional(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

fn invalid(name: &'static str, e: impl std::fmt::Display) -> SettingsError {
    SettingsError::Invalid {
        name,
        message: e.to_string(),
    }
}

/// Everything the four functions read from their environment, read in one
/// place at start-up; each uses what it needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tables: Tables,
    pub topic_arn: String,
    /// `MAIL_CONFIGURATION_SET`: the SES configuration set that reports
    /// bounces and complaints; optional for local runs.
    pub mail_configuration_set: Option<String>,
    /// The team, its calendar from `TEAM_TIMEZONE`, `TEAM_WORKDAYS` and
    /// `TEAM_HOLIDAYS`.
    pub team: Team,
    pub policy: Policy,
    /// `TEAM_CLIENT_IDS`: the team's Cognito app client ids, the only
    /// clients whose admin scope the API honours. Empty: no admin at all.
    pub team_clients: Vec<String>,
    /// What the probe function reads (all a probe stack in another region
    /// is given).
    pub probe: ProbeSettings,
    /// `LIVESITE_LOCAL_PRINCIPAL` (`admin` or `client:<id>`): stands in for
    /// the JWT authorizer under `cargo lambda watch`; the template never
    /// sets it.
    pub local_principal: Option<LocalPrincipal>,
}

/// The probe function's settings: the home stack's probe reads them beside
/// the rest, a probe stack in another region (infra/probe-region.yaml) is
/// given only these.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// `PROBES_TABLE`, `STATE_TABLE`.
    pub tables: Tables,
    /// `TABLES_REGION`: the home region whose tables a probe stack in
    /// another region reads the registry from and writes its results to;
    /// unset, the function's own region.
    pub tables_region: Option<String>,
    /// `PROBE_LOCATION`: where this probe function runs, stamped on its
    /// results when several locations vote (`[policy.locations]`).
    pub location: Option<String>,
    /// `SECOND_ROUND_QUEUE_URL`: the delay queue of the second probe round.
    pub second_round_queue_url: Option<String>,
    /// `PROBE_CONCURRENCY`: probes holding a connection at once.
    pub concurrency: Option<usize>,
    /// `PROBE_TRUSTED_NETS` (comma-separated CIDRs): networks the probe may
    /// reach besides public portals, so a local run (`cargo lambda watch`)
    /// can probe a portal on this machine. Accepted only beside a local
    /// emulator (`AWS_ENDPOINT_URL` on a loopback address); the stacks never
    /// set either, so deployed probes reach public portals only.
    pub trusted: Vec<livesite_core::net::Cidr>,
}

impl ProbeSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Self::read(&Env(lookup))
    }

    fn read(env: &Env<'_>) -> Result<Self, SettingsError> {
        let name = |var: &'static str| {
            env.optional(var)
                .map(|l| {
                    let l = l.trim().to_string();
                    match livesite_core::probe::location_ok(&l) {
                        true => Ok(l),
                        false => Err(invalid(var, "1 to 64 characters of a-z, 0-9 and '-'")),
                    }
                })
                .transpose()
        };
        Ok(Self {
            tables: Tables {
                probes: env.var("PROBES_TABLE")?,
                state: env.var("STATE_TABLE")?,
            },
            tables_region: name("TABLES_REGION")?,
            location: name("PROBE_LOCATION")?,
            second_round_queue_url: env.optional("SECOND_ROUND_QUEUE_URL"),
            concurrency: env
                .optional("PROBE_CONCURRENCY")
                .map(|n| n.parse().map_err(|e| invalid("PROBE_CONCURRENCY", e)))
                .transpose()?,
            trusted: Self::trusted(env)?,
        })
    }

    fn trusted(env: &Env<'_>) -> Result<Vec<livesite_core::net::Cidr>, SettingsError> {
        const NAME: &str = "PROBE_TRUSTED_NETS";
        let nets = env.list(NAME);
        if nets.is_empty() {
            return Ok(vec![]);
        }
        let local_emulator = env
            .optional("AWS_ENDPOINT_URL")
            .and_then(|u| url::Url::parse(&u).ok())
            .is_some_and(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            });
        if !local_emulator {
            return Err(invalid(
                NAME,
                "only for local runs against an emulator (AWS_ENDPOINT_URL on a loopback address); deployed probes reach public portals only",
            ));
        }
        nets.iter()
            .map(|n| n.parse().map_err(|e| invalid(NAME, format!("{n:?}: {e}"))))
            .collect()
    }

    /// The store over the tables, in `TABLES_REGION` when set.
    pub fn store(&self, config: &aws_config::SdkConfig) -> DynamoStore {
        let mut ddb = aws_sdk_dynamodb::config::Builder::from(config);
        if let Some(region) = &self.tables_region {
            ddb = ddb.region(aws_config::Region::new(region.clone()));
        }
        DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(ddb.build()),
            self.tables.clone(),
        )
    }
}

/// Who a request without claims acts as, in a local run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPrincipal {
    Team,
    Client(String),
}

impl Settings {
    /// `PROBES_TABLE`, `STATE_TABLE`, `PAGE_TOPIC_ARN`, `MAIL_SENDER`,
    /// `TEAM_EMAILS` (comma-separated), and the optional ones of the fields.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// The same, from any lookup of a variable by name.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let env = Env(lookup);
        let (mut team, policy) = Self::team_and_policy(&env)?;
        team.calendar = Self::team_calendar(&env)?;
        let local_principal =
            env.optional("LIVESITE_LOCAL_PRINCIPAL")
                .map(|p| match p.split_once(':') {
                    Some(("client", id)) if !id.is_empty() => Ok(LocalPrincipal::Client(id.into())),
                    _ if p == "admin" => Ok(LocalPrincipal::Team),
                    _ => Err(invalid(
                        "LIVESITE_LOCAL_PRINCIPAL",
                        "expected admin or client:<id>",
                    )),
                });
        let probe = ProbeSettings::read(&env)?;
        Ok(Self {
            tables: probe.tables.clone(),
            topic_arn: env.var("PAGE_TOPIC_ARN")?,
            mail_configuration_set: env.optional("MAIL_CONFIGURATION_SET"),
            team,
            policy,
            team_clients: env.list("TEAM_CLIENT_IDS"),
            local_principal: local_principal.transpose()?,
            probe,
        })
    }

    fn team_and_policy(env: &Env<'_>) -> Result<(Team, Policy), SettingsError> {
        let sender =
            EmailAddress::parse(env.var("MAIL_SENDER")?).map_err(|e| SettingsError::Invalid {
                name: "MAIL_SENDER",
                message: e.to_string(),
            })?;
        env.var("TEAM_EMAILS")?;
        let emails = env.addresses("TEAM_EMAILS")?;
        // The seed's channels, each a stack parameter; empty: TEAM_EMAILS.
        let channels = livesite_core::Channels {
            operations: env.addresses("TEAM_OPERATIONS_EMAILS")?,
            programme: env.addresses("TEAM_PROGRAMME_EMAILS")?,
            partner_support: env.addresses("TEAM_PARTNER_SUPPORT_EMAILS")?,
        };
        let mut policy: Policy = env.json_or_default("POLICY_JSON")?;
        policy.validate().map_err(|e| invalid("POLICY_JSON", e))?;
        if policy.probe_interval != PROBE_INTERVAL {
            return Err(invalid(
                "POLICY_JSON",
                format!(
                    "probe_interval is {}s on AWS: the stack's schedule probes once a minute and again {}s later",
                    PROBE_INTERVAL.as_secs(),
                    PROBE_INTERVAL.as_secs()
                ),
            ));
        }
        // The stack's `ProbeLocations`: the regions (and agents) whose votes
        // decide each round; it names them for the whole stack at once.
        let locations = env.list("PROBE_LOCATIONS");
        if !locations.is_empty() {
            policy.locations.expected = locations;
            policy
                .validate()
                .map_err(|e| invalid("PROBE_LOCATIONS", e))?;
        }
        let phone = env
            .optional("TEAM_PHONE")
            .map(|p| PhoneNumber::parse(p.trim()).map_err(|e| invalid("TEAM_PHONE", e)))
            .transpose()?;
        // The partner API's address for the instructions in emails: the
        // stack gives the evaluator and the sweep its PartnerApiUrl; the API
        // function learns it from each request.
        let api_url = env
            .optional("API_URL")
            .filter(|u| !u.trim().is_empty())
            .map(|u| {
                u.trim()
                    .parse::<url::Url>()
                    .map_err(|e| invalid("API_URL", e))
            })
            .transpose()?;
        Ok((
            Team {
                sender,
                emails,
                channels,
                phone,
                calendar: BusinessCalendar::default(),
                api_url,
            },
            policy,
        ))
    }

    /// `TEAM_TIMEZONE` (IANA, default UTC), `TEAM_WORKDAYS` (comma-separated
    /// weekdays, default Monday to Friday), `TEAM_HOLIDAYS` (comma-separated
    /// dates): the calendar of the answers the team owes.
    fn team_calendar(env: &Env<'_>) -> Result<BusinessCalendar, SettingsError> {
        let mut calendar = BusinessCalendar::default();
        if let Some(tz) = env.optional("TEAM_TIMEZONE") {
            calendar.timezone = tz
                .trim()
                .parse::<Tz>()
                .map_err(|e| invalid("TEAM_TIMEZONE", e))?;
        }
        let workdays = env.list("TEAM_WORKDAYS");
        if !workdays.is_empty() {
            calendar.workdays = workdays
                .iter()
                .map(|d| {
                    d.parse::<chrono::Weekday>()
                        .map_err(|_| invalid("TEAM_WORKDAYS", format!("not a weekday: {d:?}")))
                })
                .collect::<Result<_, _>>()?;
        }
        calendar.holidays = env
            .list("TEAM_HOLIDAYS")
            .iter()
            .map(|d| {
                d.parse::<chrono::NaiveDate>()
                    .map_err(|e| invalid("TEAM_HOLIDAYS", format!("{d:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(calendar)
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
