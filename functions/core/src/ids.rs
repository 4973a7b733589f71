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
}

/// An operator's id: short, lowercase, safe in keys, URLs, file names and log fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperatorId(String);

impl OperatorId {
    pub fn new(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        let ok = !raw.is_empty()
            && raw.len() <= 64
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
    pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        let valid = match raw.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && raw.len() <= 254
                    && raw.chars().all(|c| {
                        c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"' | '\\')
                    })
            }
            None => false,
        };
        if valid {
            Ok(Self(raw))
        } else {
            Err(IdError::Email(raw))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert_eq!(EmailAddress::parse(raw).is_ok(), ok, "{raw:?}");
        }
    }
}
