//! Unit tests of config reading, a file per concept: every error with its key, the shipped
//! config valid (`basics.rs`), settings of more than one shape, playbooks and pipelines,
//! monitors, database passwords.

mod basics;
mod monitors;
mod passwords;
mod people;
mod playbooks;
mod shapes;
mod store;
