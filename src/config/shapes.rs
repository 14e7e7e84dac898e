//! Settings that may be written in more than one shape, checked while the reader still knows
//! their key. A monitor's and a step's settings are read through serde's tagged enums, which
//! lose the key of a value of the wrong type (`playbooks[0].steps[1]: invalid type`); checked
//! here first, the problem names its key (`playbooks[0].steps[1].expect_status`).

use super::reader::Reader;

impl Reader {
    /// `expect_status`, when given, is one HTTP status (`200`) or a list of them
    /// (`[200, 204]`). A value of another shape is reported with its key and left out, so the
    /// rest of the item is still read and checked.
    pub(super) fn statuses_shape(&mut self, key: &str, item: &mut toml::Value) {
        let Some(table) = item.as_table_mut() else {
            return;
        };
        let Some(value) = table.get("expect_status") else {
            return;
        };
        let status = |v: &toml::Value| v.as_integer().is_some_and(|n| u16::try_from(n).is_ok());
        let fits = match value {
            toml::Value::Array(list) => list.iter().all(status),
            one => status(one),
        };
        if !fits {
            let why = format!(
                "must be an HTTP status or a list of them, like 200 or [200, 204]; got {value}"
            );
            self.issue(format!("{key}.expect_status"), why);
            table.remove("expect_status");
        }
    }
}
