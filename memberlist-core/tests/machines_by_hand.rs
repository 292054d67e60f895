//! Runs the worked example `examples/machines_by_hand.rs` and checks what it shows.
#![allow(clippy::unwrap_used)]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/machines_by_hand.rs"]
mod by_hand;

use memberlist_core::machine::{Event, State};

#[test]
fn three_machines_by_hand_join_and_detect_a_crash() {
    let c = by_hand::run();
    // Every node saw every node join (itself included) before the crash.
    for observer in 0..3 {
        let joined = c
            .events
            .iter()
            .filter(|(_, o, e)| *o == observer && matches!(e, Event::Join(_)))
            .count();
        assert_eq!(joined, 3, "node-{observer}");
    }
    // The survivors declared node-2 dead, after the crash at 5 s and not before.
    for observer in 0..2 {
        let (at, _, _) = c
            .events
            .iter()
            .find(|(_, o, e)| {
                *o == observer
                    && matches!(e, Event::Leave(m) if m.name == "node-2" && m.state == State::Dead)
            })
            .unwrap();
        assert!(at.as_secs_f64() > 5.0, "{at:?}");
        assert_eq!(c.state(observer, 2), Some(State::Dead));
    }
    assert_eq!(c.members(0), 2);
}
