//! When sending may happen: a start time (`send --at`) and a daily window (`[send] window`,
//! `timezone`). Pure: given the time now, [`Schedule::gate`] says whether sending is allowed and
//! until when, or when it opens.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// The time zone a window and a local `--at` are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// This machine's.
    Local,
    /// A named zone (`Asia/Shanghai`).
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `None`: this machine's; else an IANA name.
    pub fn parse(name: Option<&str>) -> Result<Self, ScheduleError> {
        match name.map(str::trim) {
            None | Some("") | Some("local") => Ok(Zone::Local),
            Some(n) => n.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| ScheduleError::Zone(n.to_string())),
        }
    }

    /// Its name for messages.
    pub fn name(&self) -> String {
        match self {
            Zone::Local => "local time".into(),
            Zone::Named(tz) => tz.name().to_string(),
        }
    }

    /// The wall-clock time of `t` in this zone.
    pub fn wall(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Local => t.with_timezone(&chrono::Local).naive_local(),
            Zone::Named(tz) => t.with_timezone(tz).naive_local(),
        }
    }

    /// The instant of wall-clock time `wall` in this zone (the earlier one when a clock change
    /// repeats it; the first valid minute after it when a clock change skips it).
    pub fn instant(&self, wall: NaiveDateTime) -> DateTime<Utc> {
        let pick = |r: LocalResult<DateTime<Utc>>| match r {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            LocalResult::None => None,
        };
        let at = |w: NaiveDateTime| match self {
            Zone::Local => pick(chrono::Local.from_local_datetime(&w).map(|t| t.with_timezone(&Utc))),
            Zone::Named(tz) => pick(tz.from_local_datetime(&w).map(|t| t.with_timezone(&Utc))),
        };
        (0..=180).find_map(|m| at(wall + Duration::minutes(m))).unwrap_or_else(|| Utc.from_utc_datetime(&wall))
    }
}

/// A daily sending window, `09:00-21:00` (it may pass midnight: `22:00-06:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When sending may start each day.
    pub start: NaiveTime,
    /// When it must stop.
    pub end: NaiveTime,
}

impl Window {
    /// Parse `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let bad = || ScheduleError::Window(text.to_string());
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let time = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad());
        let (start, end) = (time(a)?, time(b)?);
        if start == end {
            return Err(ScheduleError::EmptyWindow(text.to_string()));
        }
        Ok(Self { start, end })
    }

    /// Whether wall-clock time `t` is inside.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// The first wall-clock instant after `wall` whose time of day is `time`.
    fn next(wall: NaiveDateTime, time: NaiveTime) -> NaiveDateTime {
        let today = NaiveDateTime::new(wall.date(), time);
        if today > wall {
            today
        } else {
            today + Duration::days(1)
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

/// Why sending waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// `--at` is still ahead.
    Start,
    /// Outside the daily window.
    Window,
}

/// Whether sending may happen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Sending may happen, until `closes_at` if the window ends.
    Open {
        /// When the window ends.
        closes_at: Option<DateTime<Utc>>,
    },
    /// Sending waits until `opens_at`.
    Closed {
        /// When it may start.
        opens_at: DateTime<Utc>,
        /// Why it waits.
        why: Wait,
    },
}

/// A start time and a daily window, in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Nothing is sent before this.
    pub at: Option<DateTime<Utc>>,
    /// Nothing is sent outside this, each day.
    pub window: Option<Window>,
    /// The zone of the window.
    pub zone: Zone,
}

impl Schedule {
    /// Whether it limits anything.
    pub fn is_set(&self) -> bool {
        self.at.is_some() || self.window.is_some()
    }

    /// Whether sending may happen at `now`, and until or from when.
    pub fn gate(&self, now: DateTime<Utc>) -> Gate {
        if let Some(at) = self.at.filter(|at| *at > now) {
            let opens_at = match self.window {
                Some(w) if !w.contains(self.zone.wall(at).time()) => {
                    self.zone.instant(Window::next(self.zone.wall(at), w.start))
                }
                _ => at,
            };
            return Gate::Closed { opens_at, why: Wait::Start };
        }
        let Some(w) = self.window else { return Gate::Open { closes_at: None } };
        let wall = self.zone.wall(now);
        if w.contains(wall.time()) {
            Gate::Open { closes_at: Some(self.zone.instant(Window::next(wall, w.end))) }
        } else {
            Gate::Closed { opens_at: self.zone.instant(Window::next(wall, w.start)), why: Wait::Window }
        }
    }

    /// `instant` as a wall-clock time of the schedule's zone, `2026-11-25 09:00`.
    pub fn show(&self, instant: DateTime<Utc>) -> String {
        self.zone.wall(instant).format("%Y-%m-%d %H:%M").to_string()
    }
}

/// Parse `send --at`: `2026-11-25 09:00`, `2026-11-25 09:00:30` (wall-clock time of `zone`), or
/// RFC 3339 with an offset (`2026-11-25T09:00:00+08:00`).
pub fn parse_at(text: &str, zone: Zone) -> Result<DateTime<Utc>, ScheduleError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(wall) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(zone.instant(wall));
        }
    }
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Err(ScheduleError::AtWithoutTime(text.to_string()));
    }
    Err(ScheduleError::At { text: text.to_string(), zone: zone.name() })
}

/// Why a schedule setting (`window`, `timezone`, `--at`) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not a time zone name.
    #[error(
        "`timezone` = {0:?} is not a time zone name: use e.g. \"Asia/Shanghai\" (or leave it out for this machine's)"
    )]
    Zone(String),
    /// Not `HH:MM-HH:MM`.
    #[error("{}", crate::tr!("err.schedule_error.window", value0 = format!("{:?}", .0)))]
    Window(String),
    /// A window that starts where it ends.
    #[error("{}", crate::tr!("err.schedule_error.empty_window", value0 = format!("{:?}", .0)))]
    EmptyWindow(String),
    /// `--at` with a date and no time.
    #[error("{}", crate::tr!("err.schedule_error.at_without_time", value0 = format!("{:?}", .0)))]
    AtWithoutTime(String),
    /// `--at` that is not a time.
    #[error("{}", crate::tr!("err.schedule_error.at", text = format!("{:?}", .text), zone = .zone.to_string()))]
    At {
        /// As given.
        text: String,
        /// The zone a wall-clock time is read in.
        zone: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> Zone {
        Zone::parse(Some("Asia/Shanghai")).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        parse_at(text, shanghai()).unwrap()
    }

    #[test]
    fn at_reads_wall_clock_time_with_or_without_seconds_and_rfc3339() {
        assert_eq!(at("2026-11-25 09:00"), DateTime::parse_from_rfc3339("2026-11-25T01:00:00Z").unwrap());
        assert_eq!(at("2026-11-25 09:00:30"), DateTime::parse_from_rfc3339("2026-11-25T01:00:30Z").unwrap());
        assert_eq!(at("2026-11-25T09:00:00+08:00"), at("2026-11-25 09:00"));
        assert!(parse_at("2026-11-25", shanghai()).unwrap_err().to_string().contains("has no time"));
        assert!(parse_at("tomorrow", shanghai()).is_err());
        assert!(Zone::parse(Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn a_window_opens_and_closes_each_day() {
        let s = Schedule { at: None, window: Some(Window::parse("09:00-21:00").unwrap()), zone: shanghai() };
        assert_eq!(s.gate(at("2026-11-25 10:00")), Gate::Open { closes_at: Some(at("2026-11-25 21:00")) });
        assert_eq!(
            s.gate(at("2026-11-25 21:00")),
            Gate::Closed { opens_at: at("2026-11-26 09:00"), why: Wait::Window }
        );
        assert_eq!(
            s.gate(at("2026-11-25 03:00")),
            Gate::Closed { opens_at: at("2026-11-25 09:00"), why: Wait::Window }
        );
        let night = Schedule { window: Some(Window::parse("22:00-06:00").unwrap()), ..s };
        assert_eq!(night.gate(at("2026-11-25 23:30")), Gate::Open { closes_at: Some(at("2026-11-26 06:00")) });
        assert!(matches!(night.gate(at("2026-11-25 12:00")), Gate::Closed { .. }));
        assert!(Window::parse("9-21").is_err() && Window::parse("09:00-09:00").is_err());
    }

    #[test]
    fn a_start_time_holds_everything_before_it_and_respects_the_window() {
        let window = Some(Window::parse("09:00-21:00").unwrap());
        let s = Schedule { at: Some(at("2026-11-25 08:00")), window, zone: shanghai() };
        // Before --at, and --at itself is before the window opens.
        assert_eq!(s.gate(at("2026-11-24 23:00")), Gate::Closed { opens_at: at("2026-11-25 09:00"), why: Wait::Start });
        let plain = Schedule { window: None, ..s };
        assert_eq!(
            plain.gate(at("2026-11-25 07:59")),
            Gate::Closed { opens_at: at("2026-11-25 08:00"), why: Wait::Start }
        );
        assert_eq!(plain.gate(at("2026-11-25 08:00")), Gate::Open { closes_at: None });
    }
}
