//! One time series: its instrument and its attributes, resolved once. With the feature
//! `experimental-bound-instruments`, the instrument is bound to the attributes (the SDK then
//! skips its per-call attribute lookup); without it, the attributes are passed on each call.

use opentelemetry::KeyValue;
use opentelemetry::metrics;

macro_rules! series {
    ($(#[$doc:meta])* $name:ident, $inst:ident, $bound:ident, $value:ty, $method:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub(crate) struct $name {
            #[cfg(not(feature = "experimental-bound-instruments"))]
            instrument: metrics::$inst<$value>,
            #[cfg(feature = "experimental-bound-instruments")]
            bound: metrics::$bound<$value>,
            attributes: Box<[KeyValue]>,
        }

        impl $name {
            pub(crate) fn new(instrument: &metrics::$inst<$value>, attributes: Box<[KeyValue]>) -> Self {
                $name {
                    #[cfg(not(feature = "experimental-bound-instruments"))]
                    instrument: instrument.clone(),
                    #[cfg(feature = "experimental-bound-instruments")]
                    bound: instrument.bind(&attributes),
                    attributes,
                }
            }

            pub(crate) fn attributes(&self) -> &[KeyValue] {
                &self.attributes
            }

            #[inline]
            pub(crate) fn $method(&self, value: $value) {
                #[cfg(not(feature = "experimental-bound-instruments"))]
                self.instrument.$method(value, &self.attributes);
                #[cfg(feature = "experimental-bound-instruments")]
                self.bound.$method(value);
            }
        }
    };
}

series!(
    /// A counter series.
    CounterSeries, Counter, BoundCounter, u64, add
);
series!(
    /// A gauge series.
    GaugeSeries, Gauge, BoundGauge, f64, record
);
series!(
    /// A histogram series.
    HistogramSeries, Histogram, BoundHistogram, f64, record
);
