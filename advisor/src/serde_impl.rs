//! `Serialize` for the figures: durations as seconds (`f64`), a figure as
//! `{ "value": …, "unit": …, "formula": … }`, a span as `{ "low": …, "high": … }`.

use std::time::Duration;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::{Figure, Span};

/// Serializes a duration as seconds; `Duration::MAX` ("never") as `null`.
pub(crate) fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    if *d == Duration::MAX {
        s.serialize_none()
    } else {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// A value a [`Figure`] holds, as JSON-friendly numbers.
trait FigureValue {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
}

impl FigureValue for Duration {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        seconds(self, s)
    }
}

impl FigureValue for f64 {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(*self)
    }
}

impl FigureValue for u32 {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(*self)
    }
}

impl FigureValue for Span {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Span", 2)?;
        st.serialize_field("low", &Value(&self.low))?;
        st.serialize_field("high", &Value(&self.high))?;
        st.end()
    }
}

struct Value<'a, T>(&'a T);

impl<T: FigureValue> Serialize for Value<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.write(s)
    }
}

macro_rules! serialize_figure {
    ($($t:ty),*) => {$(
        impl Serialize for Figure<$t> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut st = s.serialize_struct("Figure", 3)?;
                st.serialize_field("value", &Value(&self.value))?;
                st.serialize_field("unit", self.unit)?;
                st.serialize_field("formula", &self.formula)?;
                st.end()
            }
        }
    )*};
}

serialize_figure!(Duration, f64, u32, Span);
