//! `expect_status` as written: one status (`expect_status = 200`) or a list of them
//! (`expect_status = [200, 204]`). Both mean the same list; it is written back as a list.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Reads one status or a list of statuses as a list (`#[serde(deserialize_with)]`).
pub(super) fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<u16>, D::Error> {
    deserializer.deserialize_any(Statuses)
}

struct Statuses;

impl Statuses {
    fn one<E: de::Error>(number: i128) -> Result<Vec<u16>, E> {
        u16::try_from(number)
            .map(|status| vec![status])
            .map_err(|_| E::custom(format!("{number} is not an HTTP status")))
    }
}

impl<'de> Visitor<'de> for Statuses {
    type Value = Vec<u16>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an HTTP status like 200 or a list like [200, 204]")
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Vec<u16>, E> {
        Self::one(number.into())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Vec<u16>, E> {
        Self::one(number.into())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u16>, A::Error> {
        let mut statuses = Vec::new();
        while let Some(status) = seq.next_element::<u16>()? {
            statuses.push(status);
        }
        Ok(statuses)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Check {
        #[serde(default, deserialize_with = "super::one_or_many")]
        expect_status: Vec<u16>,
    }

    fn read(value: serde_json::Value) -> Result<Vec<u16>, String> {
        serde_json::from_value::<Check>(value)
            .map(|check| check.expect_status)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn one_status_or_a_list_of_them() {
        assert_eq!(read(json!({ "expect_status": 200 })), Ok(vec![200]));
        assert_eq!(
            read(json!({ "expect_status": [200, 204] })),
            Ok(vec![200, 204])
        );
        assert_eq!(read(json!({})), Ok(vec![]));
        let wrong = read(json!({ "expect_status": "200" })).unwrap_err();
        assert!(wrong.contains("an HTTP status like 200"), "{wrong}");
        let huge = read(json!({ "expect_status": 70000 })).unwrap_err();
        assert!(huge.contains("70000 is not an HTTP status"), "{huge}");
    }
}
