//! Names people read: monitor and playbook ids, pushed sources, alert components, matchers.
//! They are shown on the dashboard and in notifications, so a name may not hold characters
//! that are invisible or reorder the text around them: `orders\u{202e}bd-` reads as another
//! component, and a NUL or a zero-width space makes two names that look the same. One
//! predicate refuses them everywhere a name comes in (config, `POST /events`, Alertmanager,
//! heartbeats, silences).

use std::fmt;

/// Why a character may not be in a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedClass {
    /// A Unicode `Cc` control: NUL, tab, newline, escape, DEL, the C1 controls.
    Control,
    /// A bidirectional control: embeddings, overrides and isolates (U+202A–U+202E,
    /// U+2066–U+2069), the directional marks U+200E, U+200F and U+061C.
    Bidi,
    /// A character of no width: U+200B–U+200D, the word joiner and invisible operators
    /// U+2060–U+2064, U+FEFF, the soft hyphen U+00AD, the Mongolian vowel separator U+180E,
    /// and the tag characters U+E0000–U+E007F.
    ZeroWidth,
    /// A line or paragraph separator (U+2028, U+2029): a line break in disguise.
    Separator,
}

impl RefusedClass {
    /// The class of `c`, or none when a name may hold it.
    pub fn of(c: char) -> Option<Self> {
        match c {
            c if c.is_control() => Some(Self::Control),
            '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}' => Some(Self::Bidi),
            '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{180E}'
            | '\u{E0000}'..='\u{E007F}' => Some(Self::ZeroWidth),
            '\u{2028}' | '\u{2029}' => Some(Self::Separator),
            _ => None,
        }
    }
}

impl fmt::Display for RefusedClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Control => "a control character",
            Self::Bidi => "a bidirectional control",
            Self::ZeroWidth => "a zero-width character",
            Self::Separator => "a line or paragraph separator",
        })
    }
}

/// The first refused character of `name`: its position (in characters), the character and
/// its class.
pub fn refused_char(name: &str) -> Option<(usize, char, RefusedClass)> {
    name.chars()
        .enumerate()
        .find_map(|(at, c)| RefusedClass::of(c).map(|class| (at, c, class)))
}

/// What is wrong with `name` for people reading it, or none.
pub fn name_problem(name: &str) -> Option<String> {
    let (at, c, class) = refused_char(name)?;
    Some(format!(
        "holds {class} (U+{:04X}) at character {at}: names may not hold control, \
         bidirectional or zero-width characters, which hide or reorder what people read",
        c as u32
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_controls_and_zero_width_characters_are_refused() {
        for (c, class) in [
            ('\u{0}', RefusedClass::Control),
            ('\n', RefusedClass::Control),
            ('\u{1b}', RefusedClass::Control),
            ('\u{7f}', RefusedClass::Control),
            ('\u{85}', RefusedClass::Control),
            ('\u{202A}', RefusedClass::Bidi),
            ('\u{202E}', RefusedClass::Bidi),
            ('\u{2066}', RefusedClass::Bidi),
            ('\u{2069}', RefusedClass::Bidi),
            ('\u{200E}', RefusedClass::Bidi),
            ('\u{200F}', RefusedClass::Bidi),
            ('\u{061C}', RefusedClass::Bidi),
            ('\u{200B}', RefusedClass::ZeroWidth),
            ('\u{200D}', RefusedClass::ZeroWidth),
            ('\u{2060}', RefusedClass::ZeroWidth),
            ('\u{FEFF}', RefusedClass::ZeroWidth),
            ('\u{2064}', RefusedClass::ZeroWidth),
            ('\u{00AD}', RefusedClass::ZeroWidth),
            ('\u{180E}', RefusedClass::ZeroWidth),
            ('\u{E0041}', RefusedClass::ZeroWidth),
            ('\u{2028}', RefusedClass::Separator),
            ('\u{2029}', RefusedClass::Separator),
        ] {
            assert_eq!(RefusedClass::of(c), Some(class), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn ordinary_names_in_any_script_are_taken() {
        for name in [
            "orders-db",
            "checkout/eu-1",
            "ödeme",
            "注文DB",
            "طلبات",
            "a b_c.d:e",
        ] {
            assert_eq!(refused_char(name), None, "{name}");
            assert_eq!(name_problem(name), None, "{name}");
        }
        // Neighbours of the refused ranges.
        for c in ['\u{2027}', '\u{202F}', '\u{2065}', '\u{206A}', '\u{200A}'] {
            assert_eq!(RefusedClass::of(c), None, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn the_first_refused_character_is_named_with_its_place() {
        let spoof = "orders\u{202e}-db\u{0}\u{200b}";
        assert_eq!(
            refused_char(spoof),
            Some((6, '\u{202e}', RefusedClass::Bidi))
        );
        let message = name_problem(spoof).unwrap();
        assert!(message.contains("U+202E"), "{message}");
        assert!(message.contains("bidirectional control"), "{message}");
        assert!(name_problem("db\u{0}")
            .unwrap()
            .contains("control character"));
    }
}
