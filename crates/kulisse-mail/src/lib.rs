//! The `Mailer` adapter: mail over SMTP with lettre, as the settings' `smtp` say: implicit
//! TLS with `tls`, else STARTTLS whenever the server offers it; `PLAIN` or `LOGIN`
//! authentication with a username; `localName` in `HELO`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kulisse_core::mail::{Address, MailError, Mailer, Mailers, Message};
use kulisse_core::settings::SmtpSettings;
use lettre::message::Mailbox;
use lettre::message::MultiPart;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// How long one SMTP exchange may take before it is given up (and retried later).
const TIMEOUT: Duration = Duration::from_secs(15);

/// Opens SMTP mailers.
pub struct Smtp;

impl Mailers for Smtp {
    fn smtp(&self, smtp: &SmtpSettings) -> Result<Arc<dyn Mailer>, MailError> {
        let invalid = |e: &dyn std::fmt::Display| MailError::Invalid(e.to_string());
        let tls = TlsParameters::new(smtp.host.clone()).map_err(|e| invalid(&e))?;
        let port = u16::try_from(smtp.port).map_err(|e| invalid(&e))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(port)
            .tls(if smtp.tls {
                Tls::Wrapper(tls)
            } else {
                Tls::Opportunistic(tls)
            })
            .timeout(Some(TIMEOUT));
        if !smtp.username.is_empty() {
            let mechanism = match smtp.auth_method.to_ascii_uppercase().as_str() {
                "LOGIN" => Mechanism::Login,
                _ => Mechanism::Plain,
            };
            builder = builder
                .credentials(Credentials::new(
                    smtp.username.clone(),
                    smtp.password.expose().to_owned(),
                ))
                .authentication(vec![mechanism]);
        }
        if !smtp.local_name.is_empty() {
            builder = builder.hello_name(ClientId::Domain(smtp.local_name.clone()));
        }
        Ok(Arc::new(SmtpMailer {
            transport: builder.build(),
        }))
    }
}

/// One server's transport (it pools its connections).
struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

fn mailbox(address: &Address) -> Result<Mailbox, MailError> {
    let email = address
        .email
        .parse()
        .map_err(|e| MailError::Invalid(format!("{}: {e}", address.email)))?;
    let name = Some(address.name.clone()).filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, email))
}

/// The plain-text part of a mail: its HTML as text (links kept as footnotes), as
/// PocketBase sends it beside the HTML (a mail without one scores worse with spam filters,
/// and some readers show only text).
fn plain_text(html: &str) -> String {
    html2text::from_read(html.as_bytes(), 78).unwrap_or_else(|_| html.to_owned())
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let email = lettre::Message::builder()
            .from(mailbox(&message.from)?)
            .to(mailbox(&message.to)?)
            .subject(&message.subject)
            // A fresh Message-ID (missing ones count against a mail with spam filters).
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(
                plain_text(&message.html),
                message.html.clone(),
            ))
            .map_err(|e| MailError::Invalid(e.to_string()))?;
        self.transport
            .send(email)
            .await
            .map_err(|e| MailError::Failed(e.to_string()))?;
        Ok(())
    }
}
