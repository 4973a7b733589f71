//! Outage notices from the DYNAMO team to every operator: the notice, its
//! updates and its resolution, each told to every operator first told, and
//! the operations centre's call list (the contract says "via telephone and
//! email": the email goes from here, the calls are the team's to make).

use super::*;

/// The most updates one notice keeps: its record stays one bounded item.
pub const MAX_NOTICE_UPDATES: usize = 50;
/// The most bytes the updates' messages take together: 50 messages of
/// 4,000 characters may be 800 KB in UTF-8, and DynamoDB refuses an item
/// over 400 KB. With the description and the operators told, the record
/// stays well under it.
pub const MAX_NOTICE_UPDATE_BYTES: usize = 200 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageNoticeInput {
    /// Microsoft network, DYNAMO or Store service affected.
    pub service: String,
    pub started_at: DateTime<Utc>,
    pub aware_at: DateTime<Utc>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageNotice {
    pub id: String,
    #[serde(flatten)]
    pub input: OutageNoticeInput,
    pub sent_at: DateTime<Utc>,
    /// The team told operators within 30 minutes of becoming aware.
    pub within_30_minutes: bool,
    /// The operators told (each update and the resolution go to them, not
    /// to an operator registered since); empty in notices stored before it
    /// was kept, which then go to every operator.
    #[serde(default)]
    pub told: Vec<OperatorId>,
    #[serde(default)]
    pub updates: Vec<NoticeUpdate>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A message the team added to its outage notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeUpdate {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// What happens to a notice after it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeEvent {
    Sent,
    Updated,
    Resolved,
}

pub fn outage_notice(
    input: OutageNoticeInput,
    now: DateTime<Utc>,
) -> Result<OutageNotice, FieldError> {
    text("service", &input.service, true)?;
    if input.service.chars().count() > MAX_SUBJECT {
        return Err(field(
            "service",
            format!("at most {MAX_SUBJECT} characters"),
        ));
    }
    text("description", &input.description, true)?;
    if input.aware_at < input.started_at {
        return Err(field("aware_at", "cannot be before started_at"));
    }
    if input.aware_at > now + Duration::minutes(5) {
        return Err(field("aware_at", "is in the future"));
    }
    Ok(OutageNotice {
        id: format!("dynamo-{}-outage", key_time(input.aware_at)),
        within_30_minutes: now - input.aware_at <= OUTAGE_NOTICE_WITHIN,
        input,
        sent_at: now,
        told: vec![],
        updates: vec![],
        resolved_at: None,
    })
}

/// Why a notice cannot take an update or its resolution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeRefusal {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("the outage notice was resolved at {0}")]
    Resolved(DateTime<Utc>),
    #[error("the outage notice is full ({MAX_NOTICE_UPDATES} updates or {MAX_NOTICE_UPDATE_BYTES} bytes of them): resolve it, or send a new notice")]
    Full,
}

impl OutageNotice {
    /// Adds the team's update; refused once resolved or full.
    pub fn update(&mut self, message: &str, now: DateTime<Utc>) -> Result<(), NoticeRefusal> {
        self.still_open()?;
        update_message(message)?;
        self.room_for(message)?;
        self.updates.push(NoticeUpdate {
            at: now,
            message: message.to_string(),
        });
        Ok(())
    }

    /// Resolves the notice, with the team's closing words if any.
    pub fn resolve(
        &mut self,
        message: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), NoticeRefusal> {
        self.still_open()?;
        if let Some(m) = message {
            update_message(m)?;
            self.room_for(m)?;
            self.updates.push(NoticeUpdate {
                at: now,
                message: m.to_string(),
            });
        }
        self.resolved_at = Some(now);
        Ok(())
    }

    /// Whether one more message fits the record's bounds.
    fn room_for(&self, message: &str) -> Result<(), NoticeRefusal> {
        let used: usize = self.updates.iter().map(|u| u.message.len()).sum();
        if self.updates.len() >= MAX_NOTICE_UPDATES
            || used + message.len() > MAX_NOTICE_UPDATE_BYTES
        {
            return Err(NoticeRefusal::Full);
        }
        Ok(())
    }

    fn still_open(&self) -> Result<(), NoticeRefusal> {
        match self.resolved_at {
            Some(at) => Err(NoticeRefusal::Resolved(at)),
            None => Ok(()),
        }
    }

    /// The operators of `registered` this notice is told to: those first
    /// told (every one, for a notice that did not keep them).
    pub fn audience<'o>(&self, registered: &'o [Operator]) -> Vec<&'o Operator> {
        registered
            .iter()
            .filter(|o| self.told.is_empty() || self.told.contains(&o.id))
            .collect()
    }

    /// The emails of `event`: one to each operator told, and the operations
    /// centre's copy naming whom to telephone (each operator's escalation
    /// phones), since the contract tells operators of an outage "via
    /// telephone and email".
    pub fn emails(
        &self,
        event: NoticeEvent,
        operators: &[&Operator],
        team: &Team,
    ) -> Vec<Notification> {
        let mut out: Vec<Notification> = operators
            .iter()
            .map(|o| self.email(event, o, o.contacts.clone(), team))
            .collect();
        if let Ok(dynamo) = OperatorId::new("dynamo") {
            out.push(self.call_list(event, &dynamo, operators, team));
        }
        out
    }

    fn subject(&self, event: NoticeEvent) -> String {
        let tag = match event {
            NoticeEvent::Sent => "OUTAGE",
            NoticeEvent::Updated => "OUTAGE UPDATE",
            NoticeEvent::Resolved => "OUTAGE RESOLVED",
        };
        format!("[{tag}] {}: {}", self.input.service, self.input.description)
    }

    /// What every copy says: the outage, what the team added since, and
    /// its end.
    fn body(&self, event: NoticeEvent, zone: chrono_tz::Tz) -> String {
        let when = |t| crate::notify::when(t, zone);
        let late = if self.within_30_minutes {
            String::new()
        } else {
            format!(
                " (later than the {} minutes the contract sets)",
                OUTAGE_NOTICE_WITHIN.num_minutes()
            )
        };
        let head = match event {
            NoticeEvent::Sent => "The DYNAMO team reports an outage.",
            NoticeEvent::Updated => "The DYNAMO team updates its outage notice.",
            NoticeEvent::Resolved => "The DYNAMO team reports the outage resolved.",
        };
        let mut s = format!(
            "{head}\n\nService: {}\nStarted: {}\nTeam aware: {}\nFirst told: {}{late}\n",
            self.input.service,
            when(self.input.started_at),
            when(self.input.aware_at),
            when(self.sent_at),
        );
        if let Some(at) = self.resolved_at {
            s += &format!("Resolved: {}\n", when(at));
        }
        s += &format!("\n{}\n", self.input.description);
        for u in &self.updates {
            s += &format!("\nUpdate, {}:\n{}\n", when(u.at), u.message);
        }
        s
    }

    /// A resolution asks nobody to act (no call-us footer).
    fn topic(event: NoticeEvent) -> Topic {
        match event {
            NoticeEvent::Resolved => Topic::OutageNoticeResolved,
            _ => Topic::OutageNotice,
        }
    }

    fn email(
        &self,
        event: NoticeEvent,
        o: &Operator,
        to: Vec<EmailAddress>,
        team: &Team,
    ) -> Notification {
        Notification::email(
            Email {
                key: format!("{}#{}#{}", self.id, o.id, self.event_key(event)),
                topic: Self::topic(event),
                operator: &o.id,
                incident: None,
                severity: Some(Severity::High),
                to,
                cc: vec![],
                subject: self.subject(event),
                text: self.body(event, o.timezone),
                at: self.event_at(event),
            },
            team,
        )
    }

    /// The operations centre's copy: the same text, and whom to call.
    fn call_list(
        &self,
        event: NoticeEvent,
        dynamo: &OperatorId,
        operators: &[&Operator],
        team: &Team,
    ) -> Notification {
        let calls: String = operators
            .iter()
            .map(|o| {
                format!(
                    "- {} ({}): {}\n",
                    o.name,
                    o.id,
                    crate::notify::whom_to_call(o)
                )
            })
            .collect();
        let text = format!(
            "Sent by email to the {} operator(s) below. The contract also asks for a telephone call to each:\n{calls}\n--- What they received ---\n{}",
            operators.len(),
            self.body(event, team.calendar.timezone)
        );
        Notification::email(
            Email {
                key: format!("{}#team#{}", self.id, self.event_key(event)),
                topic: Self::topic(event),
                operator: dynamo,
                incident: None,
                severity: Some(Severity::High),
                to: team.mailbox(crate::Purpose::Operations),
                cc: vec![],
                subject: self.subject(event),
                text,
                at: self.event_at(event),
            },
            team,
        )
    }

    /// Each event's own key: the notice's first email, each update by its
    /// number, the resolution.
    fn event_key(&self, event: NoticeEvent) -> String {
        match event {
            NoticeEvent::Sent => "email".into(),
            NoticeEvent::Updated => format!("email-update-{}", self.updates.len()),
            NoticeEvent::Resolved => "email-resolved".into(),
        }
    }

    fn event_at(&self, event: NoticeEvent) -> DateTime<Utc> {
        match event {
            NoticeEvent::Sent => self.sent_at,
            NoticeEvent::Updated => self.updates.last().map_or(self.sent_at, |u| u.at),
            NoticeEvent::Resolved => self.resolved_at.unwrap_or(self.sent_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> OutageNotice {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let input = OutageNoticeInput {
            service: "DYNAMO".into(),
            started_at: t("2026-11-27T09:00:00Z"),
            aware_at: t("2026-11-27T09:10:00Z"),
            description: "down".into(),
        };
        outage_notice(input, t("2026-11-27T09:20:00Z")).unwrap()
    }

    #[test]
    fn a_notice_takes_updates_until_resolved_and_at_most_fifty() {
        let at = notice().sent_at;
        let mut n = notice();
        for i in 0..MAX_NOTICE_UPDATES {
            n.update(&format!("update {i}"), at).unwrap();
        }
        assert_eq!(n.update("one more", at), Err(NoticeRefusal::Full));
        assert_eq!(n.updates.len(), MAX_NOTICE_UPDATES);
        // 4,000 four-byte characters are 16,000 bytes: twelve fit the
        // budget, the thirteenth (and closing words that long) do not.
        let wide = "😀".repeat(4000);
        let mut n = notice();
        for _ in 0..12 {
            n.update(&wide, at).unwrap();
        }
        assert_eq!(n.update(&wide, at), Err(NoticeRefusal::Full));
        assert_eq!(n.resolve(Some(&wide), at), Err(NoticeRefusal::Full));
        let json = serde_json::to_string(&n).unwrap();
        assert!(json.len() < 300 * 1024, "{} bytes", json.len());
        let mut n = notice();
        assert!(matches!(n.update(" ", at), Err(NoticeRefusal::Invalid(_))));
        n.resolve(None, at).unwrap();
        assert_eq!(n.updates.len(), 0, "no closing words, no update");
        assert_eq!(n.update("late", at), Err(NoticeRefusal::Resolved(at)));
        assert_eq!(
            n.resolve(Some("again"), at),
            Err(NoticeRefusal::Resolved(at))
        );
    }

    #[test]
    fn a_notice_is_told_to_the_operators_first_told_or_to_all_when_it_kept_none() {
        let ops: Vec<Operator> = ["contoso", "fabrikam"]
            .iter()
            .map(|id| crate::testing::madrid_operator(id))
            .collect();
        let mut n = notice();
        assert_eq!(n.audience(&ops).len(), 2, "a notice stored before `told`");
        n.told = vec![ops[0].id.clone()];
        let told: Vec<&str> = n.audience(&ops).iter().map(|o| o.id.as_str()).collect();
        assert_eq!(told, ["contoso"]);
        let mails = n.emails(
            NoticeEvent::Updated,
            &n.audience(&ops),
            &crate::testing::team(),
        );
        assert_eq!(
            mails.len(),
            2,
            "contoso and the operations centre's call list"
        );
        assert_ne!(
            mails[0].key,
            n.emails(
                NoticeEvent::Sent,
                &n.audience(&ops),
                &crate::testing::team()
            )[0]
            .key
        );
    }
}
