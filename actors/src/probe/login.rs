//! Refused logins: a missing or wrong password, a user the server does not know, a host its
//! rules turn away. No restart fixes them, so every database probe reports them as their own
//! kind — `db.auth_failed`, `redis.auth_failed` — for which no outage playbook runs and which
//! is never taken for a relapse of an outage; and what the probe says ends with what to do,
//! which the incident's title carries (`event::incident_title`).
//!
//! This file knows what a refusal looks like from each server.

use tokio_postgres::error::SqlState;

use super::ProbeFailure;
use crate::event::types;
use crate::model::Severity;

/// Where a password can be given to a `postgres` monitor.
const PG_PLACES: &str = "password_file, password_env, the url, a passfile (~/.pgpass, \
                         PGPASSFILE, `passfile`) or PGPASSWORD";
/// … and to a `mysql` or `redis` monitor.
const OTHER_PLACES: &str = "password_file, password_env or the url";

/// A refused login: what happened, then what to do.
pub fn refused(event_type: &'static str, what: &str, fix: &str) -> ProbeFailure {
    ProbeFailure {
        event_type,
        severity: Severity::High,
        error: format!("{what} — {fix}"),
    }
}

/// A password Grace was told where to find but could not read: nothing to log in with.
pub fn unreadable(event_type: &'static str, why: &str) -> ProbeFailure {
    refused(event_type, why, "fix the file or variable, or name another")
}

/// A PostgreSQL error that refuses the login, with `note` saying why no passfile line gave a
/// password (when none was found); None for any other error.
pub fn postgres(error: &tokio_postgres::Error, note: Option<&str>) -> Option<ProbeFailure> {
    let event_type = types::DB_AUTH_FAILED;
    if let Some(db) = error.as_db_error() {
        let message = db.message();
        let fix = match db.code() {
            code if *code == SqlState::INVALID_PASSWORD => {
                format!("check the password Grace is given: {PG_PLACES}")
            }
            code if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                if message.contains("does not exist") {
                    "create that role, or name an existing user in the url".to_owned()
                } else if message.contains("pg_hba.conf") {
                    "let Grace in: add a line for its host, user and database to the server's \
                     pg_hba.conf and reload the server"
                        .to_owned()
                } else {
                    "check the user and how the server's pg_hba.conf lets it in".to_owned()
                }
            }
            code if *code == SqlState::INSUFFICIENT_PRIVILEGE => {
                "grant the user CONNECT on the database".to_owned()
            }
            _ => return None,
        };
        return Some(refused(event_type, message, &fix));
    }
    // tokio-postgres says "password missing" (an error of its configuration) when the server
    // asks for a password it was not given.
    let cause = std::error::Error::source(error).map(ToString::to_string);
    if cause.as_deref() == Some("password missing") {
        let what = match note {
            Some(note) => format!("password missing ({note})"),
            None => "password missing".to_owned(),
        };
        return Some(refused(
            event_type,
            &what,
            &format!("put it in {PG_PLACES}"),
        ));
    }
    if error.to_string() == "authentication error" {
        let what = format!("the login failed: {}", cause.unwrap_or_default());
        let fix = "let the user log in with scram-sha-256 or md5, which Grace speaks";
        return Some(refused(event_type, &what, fix));
    }
    None
}

/// MySQL/MariaDB error codes that refuse a login: access denied to the user (1045) or to the
/// database (1044), a user that must log in through the socket (1698), a login method the
/// client does not speak (1251), a host the server does not let in (1130, in its greeting).
pub const MYSQL_REFUSALS: [u16; 5] = [1045, 1044, 1698, 1251, 1130];

/// A MySQL/MariaDB refusal (`ERROR 1045: Access denied for user …`).
pub fn mysql(what: &str) -> ProbeFailure {
    let fix = format!(
        "check the user and password Grace is given ({OTHER_PLACES}) and that the user may log \
         in from Grace's host"
    );
    refused(types::DB_AUTH_FAILED, what, &fix)
}

/// A MySQL/MariaDB login Grace cannot make (a login plugin it does not speak).
pub fn mysql_method(what: &str) -> ProbeFailure {
    let fix = "give the monitoring user mysql_native_password";
    refused(types::DB_AUTH_FAILED, what, fix)
}

/// Whether Redis's error reply refuses the login: `NOAUTH` (a password is needed), `WRONGPASS`
/// (Redis 6+), `invalid password` (older), `NOPERM` (the ACL user may not run the command), or
/// an `AUTH` to a server with no password set. Any other error, even in reply to `AUTH` (a
/// server at its client limit answers whatever comes first), is an outage.
pub fn is_redis_refusal(command: &str, reply: &str) -> bool {
    let code = reply.split_whitespace().next().unwrap_or_default();
    let auth = command.eq_ignore_ascii_case("AUTH");
    matches!(code, "NOAUTH" | "WRONGPASS" | "NOPERM")
        || reply.contains("invalid password")
        || (auth && reply.contains("no password is set"))
        || (auth && reply.contains("without any password configured"))
}

/// A Redis refusal, `reply` being the server's error.
pub fn redis(command: &str, reply: &str) -> ProbeFailure {
    let fix = match reply.starts_with("NOAUTH") {
        true => format!("the server wants a password: give it with {OTHER_PLACES}"),
        false => format!("check the user and password Grace is given ({OTHER_PLACES})"),
    };
    refused(
        types::REDIS_AUTH_FAILED,
        &format!("{command} refused: {reply}"),
        &fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_refusals_are_told_from_other_errors() {
        assert!(is_redis_refusal("PING", "NOAUTH Authentication required."));
        assert!(is_redis_refusal(
            "AUTH",
            "WRONGPASS invalid username-password pair or user is disabled."
        ));
        assert!(is_redis_refusal("AUTH", "ERR invalid password"));
        assert!(is_redis_refusal(
            "PING",
            "NOPERM this user has no permissions to run the 'ping' command"
        ));
        assert!(!is_redis_refusal(
            "AUTH",
            "ERR max number of clients reached"
        ));
        assert!(is_redis_refusal(
            "AUTH",
            "ERR AUTH <password> called without any password configured for the default user."
        ));
        assert!(!is_redis_refusal(
            "PING",
            "LOADING Redis is loading the dataset in memory"
        ));
        let noauth = redis("PING", "NOAUTH Authentication required.");
        assert_eq!(noauth.event_type, types::REDIS_AUTH_FAILED);
        assert!(
            noauth
                .error
                .starts_with("PING refused: NOAUTH Authentication required. — the server wants"),
            "{}",
            noauth.error
        );
        let denied = mysql("ERROR 1045: Access denied for user 'grace'@'127.0.0.1'");
        assert_eq!(denied.event_type, types::DB_AUTH_FAILED);
        assert!(denied.error.contains(" — check the user and password"));
    }
}
