//! [`Figure`]: one predicted number with its unit and the formula it comes from, and
//! [`Span`], a range of durations.

use std::time::Duration;

/// One predicted number: its value, its unit, and the formula it comes from in plain words
/// (with this configuration's numbers filled in), for an operator to check.
///
/// ```
/// use std::time::Duration;
/// use memberlist_advisor::Figure;
///
/// let f = Figure::new(Duration::from_secs(30), "s", "PushPullInterval, unscaled below 33 nodes");
/// assert_eq!(f.value, Duration::from_secs(30));
/// assert!(f.formula.contains("PushPullInterval"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Figure<T> {
    /// The number.
    pub value: T,
    /// Its unit: `"s"` for durations (printed and serialized as seconds), `"B/s"`, `"B"`,
    /// `"rounds"`, `"per hour"`, `"probability"`, `"count"`.
    pub unit: &'static str,
    /// Where it comes from, in plain words with the numbers filled in.
    pub formula: String,
}

impl<T> Figure<T> {
    /// A figure from its parts.
    pub fn new(value: T, unit: &'static str, formula: impl Into<String>) -> Self {
        Self {
            value,
            unit,
            formula: formula.into(),
        }
    }
}

/// A range of durations: the shortest and the longest expected outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The shortest outcome.
    pub low: Duration,
    /// The longest outcome (equal to `low` when there is no range).
    pub high: Duration,
}

impl Span {
    /// Whether `d` lies in the range, both ends included.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memberlist_advisor::Span;
    /// let s = Span { low: Duration::from_secs(8), high: Duration::from_secs(48) };
    /// assert!(s.contains(Duration::from_secs(10)));
    /// assert!(!s.contains(Duration::from_secs(7)));
    /// ```
    pub fn contains(&self, d: Duration) -> bool {
        self.low <= d && d <= self.high
    }
}

/// Seconds with a precision that suits the size: `1.58 s`, `48 s`, `2.3 ms`.
pub(crate) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d == Duration::MAX {
        "never".to_owned()
    } else if s == 0.0 {
        "0 s".to_owned()
    } else if s < 0.1 {
        format!("{:.1} ms", s * 1000.0)
    } else if s < 10.0 {
        format!("{} s", trim(format!("{s:.2}")))
    } else {
        format!("{} s", trim(format!("{s:.1}")))
    }
}

/// Bytes or bytes per second: `93 B`, `1.2 KiB`, `3.4 MiB`.
pub(crate) fn bytes(b: f64) -> String {
    const KIB: f64 = 1024.0;
    if b < KIB {
        format!("{} B", trim(format!("{b:.1}")))
    } else if b < KIB * KIB {
        format!("{} KiB", trim(format!("{:.2}", b / KIB)))
    } else if b < KIB * KIB * KIB {
        format!("{} MiB", trim(format!("{:.2}", b / KIB / KIB)))
    } else {
        format!("{} GiB", trim(format!("{:.2}", b / KIB / KIB / KIB)))
    }
}

/// A probability or rate that may be tiny or large: `0.25`, `4.1e-9`, `0`, `12.3`, `19134`.
pub(crate) fn small(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        trim(format!("{x:.1}"))
    } else if x >= 0.01 {
        trim(format!("{x:.3}"))
    } else {
        format!("{x:.2e}")
    }
}

/// Drops trailing zeros after a decimal point (and the point itself).
fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(secs(Duration::from_millis(1582)), "1.58 s");
        assert_eq!(secs(Duration::from_secs(48)), "48 s");
        assert_eq!(secs(Duration::from_micros(2300)), "2.3 ms");
        assert_eq!(secs(Duration::MAX), "never");
        assert_eq!(bytes(93.0), "93 B");
        assert_eq!(bytes(2048.0), "2 KiB");
        assert_eq!(small(0.25), "0.25");
        assert_eq!(small(0.0), "0");
        assert_eq!(small(0.000_012_3), "1.23e-5");
        assert_eq!(small(19_134.398), "19134");
        assert_eq!(small(12.34), "12.3");
    }
}
