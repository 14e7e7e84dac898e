//! The fencing check before a write or a command step: held by this node, at the epoch it
//! holds, with enough time left.

use super::*;
use crate::cluster::{may_act, may_write, Refusal, COMMAND_MARGIN_MS};

/// `monitor:db`, held by `a` at epoch 2 until 10 s.
fn held_by_a() -> Lease {
    row(&monitor("db"), Some("a"), 2, 10_000)
}

#[test]
fn the_holder_at_its_epoch_may_act_while_the_margin_is_left() {
    let lease = held_by_a();
    let margin = COMMAND_MARGIN_MS;
    assert_eq!(may_act(&lease, &node("a"), Epoch(2), 0, margin), Ok(()));
    assert_eq!(
        may_act(&lease, &node("a"), Epoch(2), 10_000 - margin, margin),
        Ok(())
    );
}

#[test]
fn a_command_is_refused_near_expiry_though_a_write_may_still_land() {
    let lease = held_by_a();
    let now = 10_000 - COMMAND_MARGIN_MS + 1;
    assert_eq!(
        may_act(&lease, &node("a"), Epoch(2), now, COMMAND_MARGIN_MS),
        Err(Refusal::TooLittleLeft {
            left_ms: COMMAND_MARGIN_MS - 1,
            margin_ms: COMMAND_MARGIN_MS
        })
    );
    assert_eq!(may_write(&lease, &node("a"), Epoch(2), now), Ok(()));
    assert_eq!(may_write(&lease, &node("a"), Epoch(2), 9_999), Ok(()));
}

#[test]
fn nothing_is_done_under_an_expired_lease_from_its_last_instant_on() {
    let lease = held_by_a();
    assert_eq!(
        may_write(&lease, &node("a"), Epoch(2), 10_000),
        Err(Refusal::Expired { ago_ms: 0 })
    );
    assert_eq!(
        may_act(&lease, &node("a"), Epoch(2), 10_250, 0),
        Err(Refusal::Expired { ago_ms: 250 })
    );
}

#[test]
fn a_lease_at_another_epoch_is_refused_even_to_its_owner() {
    // `a` lost it and took it back: what it decided under epoch 1 may not be acted on.
    let refused = may_act(&held_by_a(), &node("a"), Epoch(1), 0, 0);
    assert_eq!(
        refused,
        Err(Refusal::EpochMoved {
            held: Epoch(1),
            read: Epoch(2)
        })
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "the lease moved on: this node holds epoch 1, the row is at epoch 2"
    );
}

#[test]
fn another_owners_lease_or_a_handed_back_one_is_refused() {
    assert_eq!(
        may_act(&held_by_a(), &node("b"), Epoch(2), 0, 0),
        Err(Refusal::OtherOwner { owner: node("a") })
    );
    let released = row(&monitor("db"), None, 2, 0);
    assert_eq!(
        may_write(&released, &node("a"), Epoch(2), 0),
        Err(Refusal::Released)
    );
}

#[test]
fn the_book_fences_at_the_epoch_it_holds_and_refuses_what_it_does_not_hold() {
    let book = book("a");
    assert_eq!(
        book.may_write(&held_by_a(), 0),
        Err(Refusal::NotHeldHere { key: monitor("db") })
    );
    assert_eq!(
        Refusal::NotHeldHere { key: monitor("db") }.to_string(),
        "this node holds no lease on monitor:db"
    );
}
