//! One email over SMTP (lettre): STARTTLS by default, the server's certificate checked against
//! the system's roots and `ca_file`, a login only over TLS.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use super::Tried;
use crate::spec::{EmailSpec, ReceiverKind, SmtpTls};

pub(super) async fn send(
    email: &EmailSpec,
    kind: &ReceiverKind,
    body: &Value,
    timeout: Duration,
) -> Tried {
    let message = match message(email, body) {
        Ok(message) => message,
        Err(error) => return Tried::failed(None, error),
    };
    let mailer = match transport(email, kind, timeout) {
        Ok(mailer) => mailer,
        Err(error) => return Tried::failed(None, error),
    };
    match mailer.send(message).await {
        Ok(response) => Tried::delivered(response.code().into()),
        Err(error) => {
            let code = error.status().map(u16::from);
            Tried::failed(code, format!("SMTP {}: {error}", email.smtp))
        }
    }
}

fn message(email: &EmailSpec, body: &Value) -> Result<Message, String> {
    let subject = body["subject"].as_str().unwrap_or("[Grace]");
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let from = email
        .from
        .parse()
        .map_err(|error| format!("from: {error}"))?;
    let mut builder = Message::builder().from(from).subject(subject);
    for to in &email.to {
        builder = builder.to(to.parse().map_err(|error| format!("to {to:?}: {error}"))?);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|error| format!("the message: {error}"))
}

fn transport(
    email: &EmailSpec,
    kind: &ReceiverKind,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let (host, port) = email
        .smtp
        .rsplit_once(':')
        .ok_or("smtp must be host:port")?;
    let port: u16 = port.parse().map_err(|_| "smtp must be host:port")?;
    let tls = match email.tls {
        SmtpTls::Starttls => Tls::Required(parameters(email, host)?),
        SmtpTls::Implicit => Tls::Wrapper(parameters(email, host)?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(username) = &email.username {
        let password = super::secret(kind)?;
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    Ok(builder.build())
}

fn parameters(email: &EmailSpec, host: &str) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = &email.ca_file {
        let pem = std::fs::read(path).map_err(|error| format!("ca_file {path}: {error}"))?;
        let ca = Certificate::from_pem(&pem).map_err(|error| format!("ca_file {path}: {error}"))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build_rustls()
        .map_err(|error| format!("TLS: {error}"))
}
