//! `Serialize`/`Deserialize` for [`State`] (feature `serde`): the lower-case names
//! `"alive"`, `"suspect"`, `"dead"` and `"left"`, as [`State::as_str`] writes them.
//!
//! ```
//! use memberlist_core::machine::State;
//! let json = serde_json::to_string(&State::Suspect).unwrap();
//! assert_eq!(json, "\"suspect\"");
//! assert_eq!(serde_json::from_str::<State>(&json).unwrap(), State::Suspect);
//! ```

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::State;

const NAMES: &[&str] = &["alive", "suspect", "dead", "left"];

impl Serialize for State {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

struct StateVisitor;

impl Visitor<'_> for StateVisitor {
    type Value = State;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member state: \"alive\", \"suspect\", \"dead\" or \"left\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<State, E> {
        [State::Alive, State::Suspect, State::Dead, State::Left]
            .into_iter()
            .find(|s| s.as_str() == v)
            .ok_or_else(|| E::unknown_variant(v, NAMES))
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_by_name() {
        for state in [State::Alive, State::Suspect, State::Dead, State::Left] {
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{state}\""));
            assert_eq!(serde_json::from_str::<State>(&json).expect("parse"), state);
        }
        let err = serde_json::from_str::<State>("\"gone\"").expect_err("unknown");
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}
