//! What is monitored and under which policy. Parsed by the edges (TOML file
//! locally, DynamoDB items in AWS); checked here, once, by `validate`.

use crate::calendar::BusinessCalendar;
use crate::ids::{EmailAddress, OperatorId, PhoneNumber};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;
use url::Url;

mod operator;
mod policy;
mod team;

pub use operator::*;
pub use policy::*;
pub use team::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub policy: Policy,
    pub team: Team,
    /// Networks probes may reach besides public portals (`[prober] trusted`):
    /// for a portal on this machine or a lab network; empty by default.
    #[serde(default)]
    pub prober: crate::net::Reach,
    #[serde(default, rename = "operator")]
    pub operators: Vec<Operator>,
    /// Probing locations simulated on this machine (`livesite run`, `demo`):
    /// each probes every portal with its own view of the names.
    #[serde(default, rename = "location")]
    pub locations: Vec<SimulatedLocation>,
}

/// One simulated location: its name (listed in `[policy.locations]
/// expected` to vote) and the addresses its resolver gives for some names,
/// so one location's path can be made to fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedLocation {
    pub name: String,
    #[serde(default)]
    pub resolve: std::collections::BTreeMap<String, Vec<std::net::IpAddr>>,
}

/// A configuration mistake, located by a dotted path such as
/// `operator[1].portal.expect_status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy.validate()?;
        if self.team.emails.is_empty() {
            return Err(err("team.emails", "list at least one DYNAMO team address"));
        }
        self.validate_locations()?;
        let simulated: Vec<String> = self.locations.iter().map(|l| l.name.clone()).collect();
        let mut seen = HashSet::new();
        for (i, op) in self.operators.iter().enumerate() {
            let path = format!("operator[{i}]");
            op.validate(&path)?;
            if let Some((agent, with)) = agent_clash(op, &self.operators, &simulated) {
                return Err(err(
                    format!("{path}.agents"),
                    format!(
                        "{agent:?} is already {with}: agent and location names are one namespace"
                    ),
                ));
            }
            if !seen.insert(op.id.clone()) {
                return Err(err(
                    format!("{path}.id"),
                    format!("duplicate operator id {:?}", op.id.as_str()),
                ));
            }
        }
        Ok(())
    }

    fn validate_locations(&self) -> Result<(), ConfigError> {
        for (i, l) in self.locations.iter().enumerate() {
            if !crate::probe::location_ok(&l.name) {
                return Err(err(
                    format!("location[{i}].name"),
                    "1 to 64 characters of a-z, 0-9 and '-'",
                ));
            }
        }
        Ok(())
    }

    pub fn operator(&self, id: &OperatorId) -> Option<&Operator> {
        self.operators.iter().find(|o| &o.id == id)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod all_tests;
