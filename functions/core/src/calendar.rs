//! Business-day clocks on an operator's own calendar.
//!
//! The contract's "within 1 business day" and "no later than five business days
//! prior" are measured here. The rule, written once:
//!
//! * A business day is a whole local day (in the calendar's time zone) whose
//!   weekday is a working day and which is not a holiday.
//! * A business-day clock only runs during business days. Starting at `t`, `n`
//!   business days later is the same local time of day on the `n`-th following
//!   business day. If `t` falls on a non-business day the clock starts at 00:00 of
//!   the next business day. A clock running from midnight ends at the midnight
//!   that closes its last business day. So Friday 18:00 + 1 = Monday 18:00,
//!   Saturday 10:00 + 1 = Tuesday 00:00 and Saturday + 5 = the next Saturday 00:00.
//! * Local times that do not exist (a spring-forward gap) move forward to the
//!   first instant that does; ambiguous local times (fall back) take the earlier.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Upper bound on how far any business-day search walks, so a calendar with
/// (mistakenly) no business days at all cannot loop forever.
const MAX_DAYS_SCANNED: u32 = 3_660;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessCalendar {
    /// UTC when not given.
    #[serde(default)]
    pub timezone: Tz,
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
    #[serde(default = "default_workdays", with = "weekdays")]
    pub workdays: Vec<Weekday>,
}

/// Working days as configurations and the API write them: `mon` to `sun`
/// (read in any case, or spelled out: `Monday`).
pub mod weekdays {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(days.iter().map(|d| d.to_string().to_lowercase()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|day| {
                day.parse::<Weekday>()
                    .map_err(|_| serde::de::Error::custom(format!("not a weekday: {day:?}")))
            })
            .collect()
    }
}

pub(crate) fn default_workdays() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self {
            timezone: Tz::UTC,
            holidays: BTreeSet::new(),
            workdays: default_workdays(),
        }
    }
}

impl BusinessCalendar {
    pub fn new(timezone: Tz, holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            timezone,
            holidays: holidays.into_iter().collect(),
            workdays: default_workdays(),
        }
    }

    pub fn has_business_days(&self) -> bool {
        !self.workdays.is_empty()
    }

    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        self.workdays.contains(&date.weekday()) && !self.holidays.contains(&date)
    }

    fn next_business_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        for _ in 0..MAX_DAYS_SCANNED {
            d = d.succ_opt().unwrap_or(d);
            if self.is_business_day(d) {
                return d;
            }
        }
        d
    }

    /// The instant `n` business days after `t` (see the module docs for the rule).
    pub fn add_business_days(&self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let local = t.with_timezone(&self.timezone).naive_local();
        let (mut date, time) = if self.is_business_day(local.date()) {
            (local.date(), local.time())
        } else {
            (self.next_business_day(local.date()), chrono::NaiveTime::MIN)
        };
        if time == chrono::NaiveTime::MIN && n > 0 {
            // A clock that starts at midnight counts whole days, and the last one
            // ends at midnight after it, which may fall before a weekend rather
            // than on the Monday after it.
            for _ in 1..n {
                date = self.next_business_day(date);
            }
            return self.resolve_local(date.succ_opt().unwrap_or(date).and_time(time));
        }
        for _ in 0..n {
            date = self.next_business_day(date);
        }
        self.resolve_local(date.and_time(time))
    }

    /// The same local time `days` calendar days later (a week's update is due
    /// at the same wall-clock time, across a DST change too). A local time the
    /// change skips moves forward, an ambiguous one takes the earlier, as
    /// everywhere in this calendar.
    pub fn add_local_days(&self, t: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let local = t.with_timezone(&self.timezone).naive_local();
        self.resolve_local(local + Duration::days(i64::from(days)))
    }

    /// Whole business days from `from` until `to` (0 when `to` is earlier than
    /// one business day after `from`). Used to tell a partner how much notice it gave.
    pub fn business_days_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u32 {
        let mut n = 0;
        while n < MAX_DAYS_SCANNED && self.add_business_days(from, n + 1) <= to {
            n += 1;
        }
        n
    }

    /// Whether a notice sent at `notice` for an event at `event` gave at least
    /// `required` business days of lead time.
    pub fn gives_lead_time(
        &self,
        notice: DateTime<Utc>,
        event: DateTime<Utc>,
        required: u32,
    ) -> bool {
        self.add_business_days(notice, required) <= event
    }

    fn resolve_local(&self, naive: NaiveDateTime) -> DateTime<Utc> {
        let mut candidate = naive;
        // DST gaps are at most a couple of hours anywhere; step forward until the
        // wall-clock time exists.
        for _ in 0..16 {
            match self.timezone.from_local_datetime(&candidate) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
                LocalResult::None => candidate += Duration::minutes(15),
            }
        }
        Utc.from_utc_datetime(&naive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_without_workdays_has_no_business_days() {
        let mut c = BusinessCalendar::default();
        assert!(c.has_business_days());
        c.workdays.clear();
        assert!(!c.has_business_days());
    }

    #[test]
    fn a_whole_business_day_counts_at_its_last_second() {
        let c = BusinessCalendar::default();
        let from: DateTime<Utc> = "2026-11-26T10:00:00Z".parse().unwrap();
        let next = c.add_business_days(from, 1);
        assert_eq!(c.business_days_between(from, next), 1);
        assert_eq!(
            c.business_days_between(from, next - chrono::Duration::seconds(1)),
            0
        );
        assert_eq!(c.business_days_between(from, from), 0);
        // A notice years ahead counts up to the scan's cap, no further.
        let far = from + chrono::Duration::days(20 * 366);
        assert_eq!(c.business_days_between(from, far), MAX_DAYS_SCANNED);
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn add_business_days_table() {
        let madrid = BusinessCalendar::new(
            chrono_tz::Europe::Madrid,
            [date("2026-12-08"), date("2026-12-25")],
        );
        let utc_cal = BusinessCalendar::default();
        let new_york = BusinessCalendar::new(chrono_tz::America::New_York, []);
        let cases: &[(&str, &BusinessCalendar, &str, u32, &str)] = &[
            (
                "weekday +1",
                &utc_cal,
                "2026-11-24T10:00:00Z",
                1,
                "2026-11-25T10:00:00Z",
            ),
            (
                "zero is identity on a business day",
                &utc_cal,
                "2026-11-24T10:00:00Z",
                0,
                "2026-11-24T10:00:00Z",
            ),
            (
                "friday evening +1 is monday evening",
                &utc_cal,
                "2026-11-27T18:00:00Z",
                1,
                "2026-11-30T18:00:00Z",
            ),
            (
                "saturday +1 is tuesday 00:00",
                &utc_cal,
                "2026-11-28T10:00:00Z",
                1,
                "2026-12-01T00:00:00Z",
            ),
            (
                "sunday +0 is monday 00:00",
                &utc_cal,
                "2026-11-29T23:59:00Z",
                0,
                "2026-11-30T00:00:00Z",
            ),
            (
                "five across a weekend",
                &utc_cal,
                "2026-11-25T09:00:00Z",
                5,
                "2026-12-02T09:00:00Z",
            ),
            // 2026-12-08 is a holiday in Madrid (UTC+1 in winter): Monday 7th 10:00
            // local + 1 skips the 8th.
            (
                "holiday skipped",
                &madrid,
                "2026-12-07T09:00:00Z",
                1,
                "2026-12-09T09:00:00Z",
            ),
            (
                "christmas holiday then weekend",
                &madrid,
                "2026-12-24T17:00:00Z",
                1,
                "2026-12-28T17:00:00Z",
            ),
            // Friday 23:30 UTC is already Saturday 00:30 in Madrid.
            (
                "time zone moves the day",
                &madrid,
                "2026-11-27T23:30:00Z",
                1,
                "2026-11-30T23:00:00Z",
            ),
            // US DST ends Sunday 2026-11-01: Friday 10:00 EDT (14:00Z) + 1 =
            // Monday 10:00 EST (15:00Z): a 73-hour wait, not 72.
            (
                "fall back keeps local time",
                &new_york,
                "2026-10-30T14:00:00Z",
                1,
                "2026-11-02T15:00:00Z",
            ),
            // Spring forward on 2026-03-08: Friday 10:00 EST + 1 = Monday 10:00 EDT.
            (
                "spring forward keeps local time",
                &new_york,
                "2026-03-06T15:00:00Z",
                1,
                "2026-03-09T14:00:00Z",
            ),
        ];
        for (name, cal, from, n, want) in cases {
            assert_eq!(cal.add_business_days(utc(from), *n), utc(want), "{name}");
        }
    }

    #[test]
    fn nonexistent_local_time_moves_forward() {
        // Europe/Madrid springs forward 2027-03-28 02:00 -> 03:00, a Sunday; pick a
        // calendar where Sunday is a workday so the clock lands in the gap.
        let cal = BusinessCalendar {
            timezone: chrono_tz::Europe::Madrid,
            holidays: BTreeSet::new(),
            workdays: vec![Weekday::Sat, Weekday::Sun],
        };
        // Saturday 02:30 local (01:30Z) + 1 = Sunday 02:30, which does not exist.
        let got = cal.add_business_days(utc("2027-03-27T01:30:00Z"), 1);
        assert_eq!(got, utc("2027-03-28T01:00:00Z"), "moved to 03:00 CEST");
    }

    #[test]
    fn lead_time_table() {
        let madrid = BusinessCalendar::new(chrono_tz::Europe::Madrid, [date("2026-12-08")]);
        let cases = [
            // notice Monday 2026-11-23 09:00 local; 5 business days later is Monday 30th 09:00.
            (
                "exactly five",
                "2026-11-23T08:00:00Z",
                "2026-11-30T08:00:00Z",
                true,
                5,
            ),
            (
                "one minute short",
                "2026-11-23T08:00:00Z",
                "2026-11-30T07:59:00Z",
                false,
                4,
            ),
            // notice Wednesday 2 Dec; the holiday on the 8th pushes five days to Thursday 10th.
            (
                "holiday costs a day",
                "2026-12-02T08:00:00Z",
                "2026-12-09T08:00:00Z",
                false,
                4,
            ),
            (
                "holiday made up",
                "2026-12-02T08:00:00Z",
                "2026-12-10T08:00:00Z",
                true,
                5,
            ),
            // A Saturday notice only starts counting on Monday 00:00.
            (
                "weekend notice",
                "2026-11-28T12:00:00Z",
                "2026-12-04T22:59:00Z",
                false,
                4,
            ),
            (
                "weekend notice ok",
                "2026-11-28T12:00:00Z",
                "2026-12-04T23:00:00Z",
                true,
                5,
            ),
        ];
        for (name, notice, event, ok, days) in cases {
            assert_eq!(
                madrid.gives_lead_time(utc(notice), utc(event), 5),
                ok,
                "{name}"
            );
            assert_eq!(
                madrid.business_days_between(utc(notice), utc(event)),
                days,
                "{name} days"
            );
        }
    }

    #[test]
    fn calendar_without_workdays_terminates() {
        let cal = BusinessCalendar {
            workdays: vec![],
            ..BusinessCalendar::default()
        };
        assert!(!cal.has_business_days());
        let _ = cal.add_business_days(utc("2026-11-24T10:00:00Z"), 1);
    }
}
