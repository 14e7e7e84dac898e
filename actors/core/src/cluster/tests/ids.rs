//! Node ids, lease keys and epochs: checked as they come in, stored as plain strings and
//! numbers, and read back as they were written.

use super::*;
use crate::cluster::ids::{LEASE_KEY_ID_BYTES_MAX, NODE_ID_BYTES_MAX};
use crate::cluster::IdError;

#[test]
fn a_lease_key_is_stored_as_kind_colon_id_and_read_back() {
    for (key, text) in [
        (monitor("orders-db"), "monitor:orders-db"),
        (LeaseKey::Schedule("nightly".into()), "schedule:nightly"),
        (
            LeaseKey::Run("run-0123456789ab".into()),
            "run:run-0123456789ab",
        ),
        // An id may hold colons: the key splits at the first.
        (monitor("db:5432"), "monitor:db:5432"),
    ] {
        assert_eq!(key.to_string(), text);
        assert_eq!(text.parse::<LeaseKey>(), Ok(key.clone()));
        assert_eq!(serde_json::to_value(&key).unwrap(), serde_json::json!(text));
        assert_eq!(
            serde_json::from_value::<LeaseKey>(serde_json::json!(text)).unwrap(),
            key
        );
    }
}

#[test]
fn a_lease_key_of_no_known_kind_or_a_bad_id_is_refused() {
    assert!(matches!(
        "incident:7".parse::<LeaseKey>(),
        Err(IdError::UnknownKind(_))
    ));
    assert!(matches!(
        "monitor".parse::<LeaseKey>(),
        Err(IdError::UnknownKind(_))
    ));
    assert_eq!("monitor:".parse::<LeaseKey>(), Err(IdError::Empty));
    assert_eq!(
        "run:a\u{202e}b".parse::<LeaseKey>(),
        Err(IdError::RefusedChar)
    );
    let long = format!("monitor:{}", "x".repeat(LEASE_KEY_ID_BYTES_MAX + 1));
    assert!(matches!(
        long.parse::<LeaseKey>(),
        Err(IdError::TooLong { .. })
    ));
    assert!(serde_json::from_value::<LeaseKey>(serde_json::json!("pipeline:x")).is_err());
}

#[test]
fn a_node_id_is_checked_and_a_plain_string() {
    let id = node("grace-eu-1");
    assert_eq!(id.to_string(), "grace-eu-1");
    assert_eq!(
        serde_json::to_value(&id).unwrap(),
        serde_json::json!("grace-eu-1")
    );
    assert_eq!(NodeId::new(""), Err(IdError::Empty));
    assert_eq!(NodeId::new("a\nb"), Err(IdError::RefusedChar));
    assert!(NodeId::new("x".repeat(NODE_ID_BYTES_MAX)).is_ok());
    assert!(NodeId::new("x".repeat(NODE_ID_BYTES_MAX + 1)).is_err());
}

#[test]
fn a_lease_row_is_stored_with_its_key_as_a_string_and_its_epoch_as_a_number() {
    let lease = row(&monitor("db"), Some("a"), 3, 20_000);
    let stored = serde_json::to_value(&lease).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({
            "key": "monitor:db", "owner": "a", "epoch": 3,
            "expires_at_ms": 20_000, "renewed_at_ms": 10_000
        })
    );
    assert_eq!(serde_json::from_value::<Lease>(stored).unwrap(), lease);
    let released = row(&monitor("db"), None, 3, 20_000);
    assert_eq!(
        serde_json::to_value(&released).unwrap()["owner"],
        serde_json::json!(null)
    );
}

#[test]
fn the_epoch_after_no_row_is_one_and_after_any_other_the_next() {
    assert_eq!(Epoch::after(None), Epoch(1));
    assert_eq!(Epoch::after(Some(Epoch(7))), Epoch(8));
    assert_eq!(
        Epoch(u64::MAX).next(),
        Epoch(u64::MAX),
        "saturates, never wraps to 0"
    );
    assert_eq!(Epoch(4).to_string(), "epoch 4");
}
