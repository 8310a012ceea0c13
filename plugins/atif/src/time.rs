//! Timestamps as Python's `datetime.fromtimestamp(ts, tz=timezone.utc)
//! .isoformat()` writes them, which is how Harbor's converters turn epoch
//! seconds into ATIF's ISO 8601 `timestamp`.

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, or None where Python raises (NaN,
/// infinities, years outside 1..=9999), as Harbor's `_iso_timestamp` then
/// leaves the timestamp out.
pub(crate) fn iso_utc(ts: f64) -> Option<String> {
    if !ts.is_finite() {
        return None;
    }
    // CPython's _PyTime_ObjectToTimeval with ROUND_HALF_EVEN: split with modf,
    // round the fraction's microseconds half to even, carry.
    let mut whole = ts.trunc();
    let mut micros = ((ts - whole) * 1e6).round_ties_even();
    if micros >= 1e6 {
        micros -= 1e6;
        whole += 1.0;
    } else if micros < 0.0 {
        micros += 1e6;
        whole -= 1.0;
    }
    // Years 1..=9999 span about ±2.6e11 seconds around 1970.
    if whole.abs() > 1e12 {
        return None;
    }
    // Both checked just above to be whole and small.
    #[allow(clippy::cast_possible_truncation)]
    let (secs, micros) = (whole as i64, micros as u32);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return None;
    }
    let (h, m, s) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{fraction}+00:00"
    ))
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Day in 1..=31 and month in 1..=12 by construction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::iso_utc;

    /// Expected values from CPython 3.12's datetime.
    #[test]
    fn like_python() {
        for (ts, want) in [
            (0.0, Some("1970-01-01T00:00:00+00:00")),
            (1763728101.25, Some("2025-11-21T12:28:21.250000+00:00")),
            (-1.5, Some("1969-12-31T23:59:58.500000+00:00")),
            (951782400.0, Some("2000-02-29T00:00:00+00:00")),
            (1e-7, Some("1970-01-01T00:00:00+00:00")),
            (0.9999996, Some("1970-01-01T00:00:01+00:00")),
            (253402300799.0, Some("9999-12-31T23:59:59+00:00")),
            (253402300800.0, None),
            (f64::NAN, None),
        ] {
            assert_eq!(iso_utc(ts).as_deref(), want, "{ts}");
        }
    }
}
