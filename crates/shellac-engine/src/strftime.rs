//! strftime(3) in UTC and the C locale, written out here (no time zone database, no libc):
//! what `std.strftime()` gives VCL and what `shellac ncsa` writes for `%t` and `%{X}t`.
//! Conversions it does not know are written as they are (`%Q` stays `%Q`), as glibc does.

use std::fmt::Write as _;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// From Thursday: 1970-01-01 was one.
const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

/// A moment broken down into its civil parts, in UTC.
#[derive(Clone, Copy, Debug)]
struct Tm {
    year: i64,
    /// 1-12
    month: u32,
    /// 1-31
    day: u32,
    hour: i64,
    min: i64,
    sec: i64,
    /// 0 = Sunday
    wday: i64,
    /// 0-365
    yday: i64,
    /// Seconds since the epoch.
    epoch: i64,
}

/// `t` (seconds since the epoch; the fraction is dropped, toward the past) in `format`, in UTC,
/// `zone` naming the zone for `%Z` (glibc says `GMT` for `gmtime`, `UTC` where TZ is UTC).
pub fn strftime(format: &str, t: f64, zone: &str) -> String {
    let tm = Tm::of(t);
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(conv) => {
                if !tm.write(&mut out, conv, zone) {
                    out.push('%');
                    out.push(conv);
                }
            }
            None => out.push('%'),
        }
    }
    out
}

// === impl Tm ===

impl Tm {
    fn of(t: f64) -> Tm {
        // (Beyond what a 64-bit time can say, the epoch: as a failed conversion would.)
        let epoch = if t.is_finite() && t.abs() < 1e17 { t.floor() as i64 } else { 0 };
        let days = epoch.div_euclid(86_400);
        let sod = epoch.rem_euclid(86_400);
        let (year, month, day) = civil(days);
        Tm {
            year,
            month,
            day,
            hour: sod / 3600,
            min: sod / 60 % 60,
            sec: sod % 60,
            wday: (days + 4).rem_euclid(7),
            yday: days - days_from_civil(year, 1, 1),
            epoch,
        }
    }

    /// The ISO 8601 week-based year and week number (`%G`, `%V`).
    fn iso_week(&self) -> (i64, i64) {
        let wday_mon = (self.wday + 6) % 7; // 0 = Monday
        let week = (self.yday - wday_mon + 10) / 7;
        if week < 1 {
            let prev = self.year - 1;
            let prev_days = if is_leap(prev) { 366 } else { 365 };
            let tm = Tm { year: prev, yday: self.yday + prev_days, ..*self };
            return tm.iso_week();
        }
        let days = if is_leap(self.year) { 366 } else { 365 };
        if week == 53 && self.yday - wday_mon + 3 >= days {
            return (self.year + 1, 1);
        }
        (self.year, week)
    }

    /// Writes one conversion; false for one it does not know.
    fn write(&self, out: &mut String, conv: char, zone: &str) -> bool {
        let month = MONTHS[(self.month - 1) as usize];
        let day = DAYS[((self.wday + 3) % 7) as usize];
        let hour12 = if self.hour % 12 == 0 { 12 } else { self.hour % 12 };
        let am_pm = if self.hour < 12 { "AM" } else { "PM" };
        // (Writing to a String does not fail.)
        let _ = match conv {
            'a' => write!(out, "{}", &day[..3]),
            'A' => write!(out, "{day}"),
            'b' | 'h' => write!(out, "{}", &month[..3]),
            'B' => write!(out, "{month}"),
            'c' => write!(
                out,
                "{} {} {:2} {:02}:{:02}:{:02} {}",
                &day[..3],
                &month[..3],
                self.day,
                self.hour,
                self.min,
                self.sec,
                self.year
            ),
            'C' => write!(out, "{:02}", self.year.div_euclid(100)),
            'd' => write!(out, "{:02}", self.day),
            'D' | 'x' => write!(out, "{:02}/{:02}/{:02}", self.month, self.day, self.year.rem_euclid(100)),
            'e' => write!(out, "{:2}", self.day),
            'F' => write!(out, "{}-{:02}-{:02}", self.year, self.month, self.day),
            'G' => write!(out, "{}", self.iso_week().0),
            'g' => write!(out, "{:02}", self.iso_week().0.rem_euclid(100)),
            'H' => write!(out, "{:02}", self.hour),
            'I' => write!(out, "{hour12:02}"),
            'j' => write!(out, "{:03}", self.yday + 1),
            'k' => write!(out, "{:2}", self.hour),
            'l' => write!(out, "{hour12:2}"),
            'm' => write!(out, "{:02}", self.month),
            'M' => write!(out, "{:02}", self.min),
            'n' => writeln!(out),
            'p' => write!(out, "{am_pm}"),
            'P' => write!(out, "{}", am_pm.to_ascii_lowercase()),
            'r' => write!(out, "{hour12:02}:{:02}:{:02} {am_pm}", self.min, self.sec),
            'R' => write!(out, "{:02}:{:02}", self.hour, self.min),
            's' => write!(out, "{}", self.epoch),
            'S' => write!(out, "{:02}", self.sec),
            't' => write!(out, "\t"),
            'T' | 'X' => write!(out, "{:02}:{:02}:{:02}", self.hour, self.min, self.sec),
            'u' => write!(out, "{}", if self.wday == 0 { 7 } else { self.wday }),
            'U' => write!(out, "{:02}", (self.yday + 7 - self.wday) / 7),
            'V' => write!(out, "{:02}", self.iso_week().1),
            'w' => write!(out, "{}", self.wday),
            'W' => write!(out, "{:02}", (self.yday + 7 - (self.wday + 6) % 7) / 7),
            'y' => write!(out, "{:02}", self.year.rem_euclid(100)),
            'Y' => write!(out, "{}", self.year),
            'z' => write!(out, "+0000"),
            'Z' => write!(out, "{zone}"),
            '%' => write!(out, "%"),
            _ => return false,
        };
        true
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// The civil date of a day count since 1970-01-01: (year, month 1-12, day 1-31).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day count since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row: the time, the format, and what varnishd 7.1.1's `std.strftime()` gave for it
    /// (glibc, C locale).
    #[test]
    fn formats_as_varnishd_does() {
        let rows: &[(f64, &str, &str)] = &[
            (
                1_140_618_699.0,
                "%Y%m%dT%H%M%SZ %a %b %j %e %A %B %p %I %u %w %C %D %R %y %%",
                "20060222T143139Z Wed Feb 053 22 Wednesday February PM 02 3 3 20 02/22/06 14:31 06 %",
            ),
            (0.0, "%F %T %z %Z %s", "1970-01-01 00:00:00 +0000 GMT 0"),
            (-86_401.0, "%F %T %a %j", "1969-12-30 23:59:59 Tue 364"),
            (
                951_782_400.0,
                "%c|%x|%X|%h|%G|%g|%V|%U|%W|%k|%l|%P|%r|%q",
                "Tue Feb 29 00:00:00 2000|02/29/00|00:00:00|Feb|2000|00|09|09|09| 0|12|am|12:00:00 AM|%q",
            ),
            (951_782_400.0, "%Q|%E|%O", "%Q|%E|%O"),
            (1_140_618_699.0, "", ""),
        ];
        for (t, f, want) in rows {
            assert_eq!(strftime(f, *t, "GMT"), *want, "{f} at {t}");
        }
    }

    #[test]
    fn iso_weeks_cross_the_year_as_glibc_counts_them() {
        // 2021-01-03 (Sunday) is in 2020's week 53; 2024-12-30 (Monday) in 2025's week 1.
        assert_eq!(strftime("%G-W%V-%u", 1_609_632_000.0, "GMT"), "2020-W53-7");
        assert_eq!(strftime("%G-W%V-%u", 1_735_516_800.0, "GMT"), "2025-W01-1");
    }
}
