//! Validated identifiers: once built, they are known to be well formed, so no
//! code further in needs to check them again.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("operator id must be 1 to 64 characters of a-z, 0-9 and '-', starting with a letter or digit; got {0:?}")]
    Operator(String),
    #[error("not an email address: {0:?}")]
    Email(String),
    #[error("not an E.164 phone number (a '+', then 8 to 15 digits, the first not 0, e.g. \"+14255389336\"): {0:?}")]
    Phone(String),
}

/// How a time is written inside an id or key (`contoso-20261127T100000Z-…`):
/// sortable, no separators that keys or URLs would need to escape.
pub fn key_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `key_time` to the millisecond (`20261127T100000123Z`), for ids of
/// records a partner may make several of in a second.
pub fn key_time_ms(t: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = key_time(t);
    format!(
        "{}{:03}Z",
        seconds.trim_end_matches('Z'),
        t.timestamp_subsec_millis().min(999)
    )
}

/// An operator's id: short, lowercase, safe in keys, URLs, file names and log fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperatorId(String);

impl OperatorId {
    /// The longest id, in characters (all ASCII).
    pub const MAX_LEN: usize = 64;

    pub fn new(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-');
        if ok {
            Ok(Self(raw))
        } else {
            Err(IdError::Operator(raw))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OperatorId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<OperatorId> for String {
    fn from(value: OperatorId) -> Self {
        value.0
    }
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked enough to refuse what would break a mail header
/// (no whitespace, no control characters, no angle brackets or commas).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// An address the mail service (SES) will accept as a recipient: a plain
    /// `local@domain` (no display name, comment or quoting), 7-bit ASCII, the
    /// local part at most 64 characters of the dot-atom set without leading,
    /// trailing or doubled dots, the domain a host name (letters, digits and
    /// hyphens in labels of 1 to 63, no label starting or ending with a hyphen,
    /// at least two labels, a top-level label of letters or `xn--`), 254
    /// characters in all. Anything else would be refused at send time, and a
    /// refused message is a message nobody gets.
    pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        let valid = raw.len() <= 254
            && match raw.split_once('@') {
                Some((local, domain)) => local_part_ok(local) && domain_ok(domain),
                None => false,
            };
        if valid {
            Ok(Self(raw))
        } else {
            Err(IdError::Email(raw))
        }
    }

    /// Same mailbox: the domain compares case-insensitively.
    pub fn same_mailbox(&self, other: &EmailAddress) -> bool {
        match (self.0.split_once('@'), other.0.split_once('@')) {
            (Some((l1, d1)), Some((l2, d2))) => l1 == l2 && d1.eq_ignore_ascii_case(d2),
            _ => false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn local_part_ok(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
}

fn domain_ok(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld_ok = labels.last().is_some_and(|t| {
        t.starts_with("xn--") || (t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()))
    });
    domain.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

impl TryFrom<String> for EmailAddress {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+14255389336`): what the operations
/// centre dials, written one way only so a page can carry it whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        let digits = raw.strip_prefix('+').unwrap_or("");
        let valid = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(raw))
        } else {
            Err(IdError::Phone(raw))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_e164() {
        let cases = [
            ("+14255389336", true),
            ("+34912345678", true),
            ("+12345678", true),
            ("+1234567", false),
            ("+123456789012345", true),
            ("+1234567890123456", false),
            ("14255389336", false),
            ("+04255389336", false),
            ("+1 425-538-9336", false),
            ("+1425538933a", false),
            ("", false),
            ("+", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(PhoneNumber::parse(raw).is_ok(), ok, "{raw:?}");
        }
        let read: Result<PhoneNumber, _> = serde_json::from_str("\"+1 425\"");
        assert!(read.is_err());
    }

    #[test]
    fn ids_read_back_as_written() {
        assert_eq!(OperatorId::new("mo-net-2").unwrap().as_str(), "mo-net-2");
        let mail = EmailAddress::parse("noc@contoso.example").unwrap();
        assert_eq!(mail.as_str(), "noc@contoso.example");
        assert_eq!(mail.to_string(), "noc@contoso.example");
        assert_eq!(String::from(mail), "noc@contoso.example");
    }

    #[test]
    fn key_times_sort_as_times_do() {
        let t: chrono::DateTime<chrono::Utc> = "2026-11-27T10:00:05.042Z".parse().unwrap();
        assert_eq!(key_time(t), "20261127T100005Z");
        assert_eq!(key_time_ms(t), "20261127T100005042Z");
        let later = t + chrono::Duration::milliseconds(958);
        assert_eq!(key_time_ms(later), "20261127T100006000Z");
        assert!(key_time_ms(later) > key_time_ms(t));
    }

    #[test]
    fn operator_ids() {
        for (raw, ok) in [
            ("contoso", true),
            ("mo-42", true),
            ("9lives", true),
            ("", false),
            ("-lead", false),
            ("Upper", false),
            ("has space", false),
            ("a/b", false),
            (&"x".repeat(65), false),
        ] {
            assert_eq!(OperatorId::new(raw).is_ok(), ok, "{raw:?}");
        }
    }

    #[test]
    fn email_addresses() {
        for (raw, ok) in [
            ("noc@contoso.example", true),
            ("a.b+c@x.co", true),
            ("no-at.example", false),
            ("@x.example", false),
            ("a@nodot", false),
            ("a@b.example\r\nBcc: evil@x.example", false),
            ("A <a@b.example>", false),
            ("a@b.example,c@d.example", false),
            // What SES refuses, though it looks like an address.
            ("a@b..example", false),
            ("a@-b.example", false),
            ("a@b-.example", false),
            ("a@b_c.example", false),
            ("a@b.c0m", false),
            ("a@b.c", false),
            (".a@b.example", false),
            ("a.@b.example", false),
            ("a..b@c.example", false),
            ("\"a b\"@c.example", false),
            ("a(comment)@b.example", false),
            ("ü@b.example", false),
            ("a@bü.example", false),
            ("a@b.example.", false),
            ("a@[127.0.0.1]", false),
            ("a@127.0.0.1", false),
            (&format!("{}@b.example", "a".repeat(65)), false),
            (&format!("{}@b.example", "a".repeat(64)), true),
            (&format!("a@{}.example", "b".repeat(64)), false),
            // What it accepts.
            ("o'brien+noc_1@sub.contoso-mobile.example", true),
            ("noc@xn--mller-kva.example", true),
            ("noc@contoso.xn--p1ai", true),
        ] {
            assert_eq!(EmailAddress::parse(raw).is_ok(), ok, "{raw:?}");
        }
        let a = EmailAddress::parse("NOC@Contoso.Example").unwrap();
        assert!(a.same_mailbox(&EmailAddress::parse("NOC@contoso.example").unwrap()));
        assert!(!a.same_mailbox(&EmailAddress::parse("noc@contoso.example").unwrap()));
    }
}
