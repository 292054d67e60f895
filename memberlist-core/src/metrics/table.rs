//! The macro that turns the catalog's table per instrument kind into a metric enum with its
//! dense index, its inverse, its label values and its descriptors.

/// The values of a metric's one variable label: every value in index order, and its text.
pub trait LabelValue: Copy + 'static {
    /// Every value, in index order.
    const ALL: &'static [Self];
    /// The label value as exported (`reason="decode"`).
    fn as_str(self) -> &'static str;
    /// The value's position in [`ALL`](Self::ALL).
    fn index(self) -> usize;
}

/// Defines a metric enum from rows
/// `Variant [(LabelType, "label key")] => ("go.name", "prometheus_name", "otel.name", Unit,
/// Origin, "help")`, each documented by its help and name, then by its own doc comment if any.
macro_rules! metric_table {
    (
        $(#[$meta:meta])*
        pub enum $Enum:ident: $Kind:ident {
            $(
                $(#[$vmeta:meta])*
                $Var:ident $(($L:ty, $lkey:literal))? =>
                    ($go:literal, $prom:literal, $otel:literal, $unit:ident, $origin:ident, $help:literal)
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $Enum {
            $(
                #[doc = concat!($help, " (`", $go, "`)")]
                $(#[$vmeta])*
                $Var $(($L))?,
            )*
        }

        impl $Enum {
            /// How many distinct time series there are (a labelled metric counts one per
            /// label value).
            pub const COUNT: usize = {
                let mut n = 0;
                $( n += metric_table!(@size $($L)?); )*
                n
            };

            /// Every time series, in index order.
            pub fn all() -> impl Iterator<Item = $Enum> {
                (0..Self::COUNT).filter_map(Self::from_index)
            }

            /// A dense index in `0..COUNT`: an exporter keeps its instruments in an array.
            pub fn index(self) -> usize {
                let mut offset = 0;
                $(
                    if let metric_table!(@pat $Enum $Var value $($L)?) = self {
                        return offset + metric_table!(@offset value $($L)?);
                    }
                    offset += metric_table!(@size $($L)?);
                )*
                let _ = offset;
                unreachable!("every variant has a row")
            }

            /// The time series with this index.
            pub fn from_index(index: usize) -> Option<$Enum> {
                let mut i = index;
                $(
                    if i < metric_table!(@size $($L)?) {
                        return Some(metric_table!(@make $Enum $Var i $($L)?));
                    }
                    i -= metric_table!(@size $($L)?);
                )*
                let _ = i;
                None
            }

            /// The value of this series' label, if the metric has one.
            pub fn label_value(self) -> Option<&'static str> {
                $(
                    if let metric_table!(@pat $Enum $Var value $($L)?) = self {
                        return metric_table!(@label value $($L)?);
                    }
                )*
                None
            }

            /// The metric's description.
            pub const fn descriptor(self) -> &'static Descriptor {
                match self {
                    $(
                        metric_table!(@pat $Enum $Var _value $($L)?) => &Descriptor {
                            name: $go,
                            prometheus_name: $prom,
                            otel_name: $otel,
                            kind: Kind::$Kind,
                            unit: Unit::$unit,
                            help: $help,
                            label: metric_table!(@key $($lkey)?),
                            origin: Origin::$origin,
                            buckets: metric_table!(@buckets $Kind $unit),
                        },
                    )*
                }
            }
        }
    };
    (@size) => { 1 };
    (@size $L:ty) => { <$L as LabelValue>::ALL.len() };
    (@pat $Enum:ident $Var:ident $v:ident) => { $Enum::$Var };
    (@pat $Enum:ident $Var:ident $v:ident $L:ty) => { $Enum::$Var($v) };
    (@offset $v:ident) => { 0 };
    (@offset $v:ident $L:ty) => { LabelValue::index($v) };
    (@make $Enum:ident $Var:ident $i:ident) => { $Enum::$Var };
    (@make $Enum:ident $Var:ident $i:ident $L:ty) => { $Enum::$Var(<$L as LabelValue>::ALL[$i]) };
    (@label $v:ident) => { None };
    (@label $v:ident $L:ty) => { Some(LabelValue::as_str($v)) };
    (@key) => { None };
    (@key $k:literal) => { Some($k) };
    (@buckets Histogram Seconds) => { SECONDS_BUCKETS };
    (@buckets Histogram Bytes) => { BYTES_BUCKETS };
    (@buckets $Kind:ident $unit:ident) => { &[] };
}

pub(crate) use metric_table;
