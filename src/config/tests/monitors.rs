//! Monitors: ids that hide or reorder text refused with their key, flapping on by default.

use super::super::*;

#[test]
fn ids_that_hide_or_reorder_text_are_refused_with_their_key() {
    let text = "
        [[monitors]]
        id = \"orders\u{202e}-db\"
        kind = \"tcp\"
        address = \"127.0.0.1:1\"
        depends_on = [\"cache\u{200b}\"]
        [[playbooks]]
        id = \"heal\u{0}\"
        on = [\"tcp.*\"]
        steps = [{ kind = \"escalate\" }]
    ";
    // TOML itself refuses a raw NUL in a string; written as an escape it reads.
    let text = text.replace('\u{0}', "\\u0000");
    let error = parse("t", &text).unwrap_err();
    let keys: Vec<&str> = error.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "monitors[0].id",
            "monitors[0].depends_on[0]",
            "playbooks[0].id"
        ],
        "{error}"
    );
    assert!(error.to_string().contains("U+202E"), "{error}");
}

#[test]
fn flapping_is_on_by_default_and_either_setting_at_zero_turns_it_off() {
    let monitor = |extra: &str| {
        format!(
            "[[monitors]]\nid = \"queue\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n{extra}\n"
        )
    };
    let config = parse("t", &monitor("")).unwrap();
    let spec = &config.tree.monitors[0];
    assert_eq!((spec.flap_window, spec.flap_threshold), (20, 8));
    assert!(spec.flapping_detected());
    for off in ["flap_window = 0", "flap_threshold = 0"] {
        let config = parse("t", &monitor(off)).unwrap();
        assert!(!config.tree.monitors[0].flapping_detected(), "{off}");
    }
    // A window too small for the default threshold says which to change.
    let error = parse("t", &monitor("flap_window = 6")).unwrap_err();
    assert_eq!(error.issues[0].key, "monitors[0].flap_threshold", "{error}");
    let error = parse("t", &monitor("flap_window = 200")).unwrap_err();
    assert_eq!(error.issues[0].key, "monitors[0].flap_window", "{error}");
}
