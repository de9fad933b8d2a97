//! Sending: the mailer the settings' `smtp` names (re-opened when they change), messages
//! sent off the request with a few retries, and `POST /api/settings/test/email`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use kulisse_schema::{CollectionKind, FieldError, FieldErrors};
use metrics::{counter, gauge};
use serde_json::{Value, json};

use super::template::escape_html;
use super::{Address, MailError, Mailer, Mailers, Message, Placeholders, Template, TemplateKind};
use crate::auth::Auth;
use crate::collections::Registry;
use crate::collections::service::require_superuser;
use crate::error::{CoreError, Form};
use crate::metrics::series;
use crate::settings::{Settings, SettingsError, SettingsService, SmtpSettings};

/// Waits before the second and third attempt of a message.
const RETRIES: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(10)];

/// Sends mail as the settings say.
#[derive(Clone)]
pub struct MailService {
    mailers: Arc<dyn Mailers>,
    settings: SettingsService,
    registry: Registry,
    /// The mailer last opened and the settings it was opened with.
    opened: Arc<RwLock<Option<OpenMailer>>>,
}

/// A mailer and the `smtp` settings it was opened with.
type OpenMailer = (SmtpSettings, Arc<dyn Mailer>);

impl MailService {
    /// Mail through `mailers`, as `settings` say.
    pub fn new(mailers: Arc<dyn Mailers>, settings: SettingsService, registry: Registry) -> Self {
        MailService {
            mailers,
            settings,
            registry,
            opened: Arc::default(),
        }
    }

    /// A message from the app (the settings' sender) to `to`, from template `kind` of
    /// auth collection `c`, with `values` (the app's name and URL are filled in here).
    pub fn compose(
        &self,
        c: &kulisse_schema::Collection,
        kind: TemplateKind,
        to: &str,
        mut values: Placeholders,
    ) -> Message {
        let settings = self.settings.snapshot();
        values.app_name.clone_from(&settings.meta.app_name);
        values.app_url.clone_from(&settings.meta.app_url);
        let (subject, html) = Template::of(c, kind).render(&values);
        Message {
            from: sender(&settings),
            to: Address {
                name: String::new(),
                email: to.to_owned(),
            },
            subject,
            html,
        }
    }

    /// A notice from the app to an operator at `to` (a scheduled job that failed): the
    /// app's name before `subject`, and `text` as the body's one paragraph.
    pub fn notice(&self, to: &str, subject: &str, text: &str) -> Message {
        let settings = self.settings.snapshot();
        let app = &settings.meta.app_name;
        Message {
            from: sender(&settings),
            to: Address {
                name: String::new(),
                email: to.to_owned(),
            },
            subject: format!("[{app}] {subject}"),
            html: format!(
                "<p>{}</p>\n<p>{}</p>",
                escape_html(text),
                escape_html(&settings.meta.app_url)
            ),
        }
    }

    /// Sends `message` in the background: never in the request's way. Tried three times
    /// over about 12 s; a message that still fails is logged and dropped.
    pub fn send_later(&self, message: Message) {
        let service = self.clone();
        gauge!(series::MAIL_QUEUE).increment(1);
        tokio::spawn(async move {
            let mut waits = RETRIES.iter();
            let outcome = loop {
                match service.send_now(&message).await {
                    Ok(()) => break "sent",
                    Err(MailError::Disabled) => {
                        tracing::warn!(to = %message.to.email, subject = %message.subject,
                            "mail not sent: SMTP is not enabled in the settings");
                        break "disabled";
                    }
                    Err(e) => match waits.next() {
                        Some(wait) => tokio::time::sleep(*wait).await,
                        None => {
                            tracing::warn!(error = %e, to = %message.to.email,
                                subject = %message.subject, "mail not sent");
                            break "failed";
                        }
                    },
                }
            };
            gauge!(series::MAIL_QUEUE).decrement(1);
            counter!(series::MAIL_MESSAGES, "outcome" => outcome).increment(1);
        });
    }

    /// Sends `message` now, through the mailer the settings name.
    ///
    /// # Errors
    /// [`MailError::Disabled`] when SMTP is off; the server's refusal.
    pub async fn send_now(&self, message: &Message) -> Result<(), MailError> {
        self.mailer()?.send(message).await
    }

    fn mailer(&self) -> Result<Arc<dyn Mailer>, MailError> {
        let settings = self.settings.snapshot();
        if !settings.smtp.enabled {
            return Err(MailError::Disabled);
        }
        if let Ok(opened) = self.opened.read()
            && let Some((with, mailer)) = opened.as_ref()
            && *with == settings.smtp
        {
            return Ok(Arc::clone(mailer));
        }
        let mailer = self.mailers.smtp(&settings.smtp)?;
        if let Ok(mut opened) = self.opened.write() {
            *opened = Some((settings.smtp.clone(), Arc::clone(&mailer)));
        }
        Ok(mailer)
    }

    /// `POST /api/settings/test/email`: sends template `template` of auth collection
    /// `collection` (`_superusers` when empty) to `email`, now, with placeholder values
    /// for a test record.
    ///
    /// # Errors
    /// Unless superuser; form errors for a missing or invalid address, template or
    /// collection; [`SettingsError::EmailTest`] when sending fails.
    pub async fn test_email(&self, auth: &Auth, body: &Value) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let text = |key| body.get(key).and_then(Value::as_str).unwrap_or_default();
        let (email, template, collection) = (text("email"), text("template"), text("collection"));
        let mut errs = FieldErrors::new();
        if let Err(e) = kulisse_schema::value::required_email(email) {
            errs.add("email", e);
        }
        let kind = TemplateKind::parse(template);
        if template.is_empty() {
            errs.add("template", FieldError::required());
        } else if kind.is_none() {
            errs.add(
                "template",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
        }
        let name = if collection.is_empty() {
            "_superusers"
        } else {
            collection
        };
        let c = self
            .registry
            .get(name)
            .filter(|c| c.kind == CollectionKind::Auth);
        if c.is_none() {
            errs.add(
                "collection",
                FieldError::new(
                    "validation_invalid_auth_collection",
                    "Must be a valid auth collection id or name.",
                ),
            );
        }
        let (Some(kind), Some(c)) = (kind, c) else {
            return Err(CoreError::invalid(Form::TestEmail, errs));
        };
        if !errs.is_empty() {
            return Err(CoreError::invalid(Form::TestEmail, errs));
        }
        let record = json!({"id": "__kulisse_test_id__", "email": email, "collectionId": c.id,
            "collectionName": c.name});
        let values = Placeholders {
            token: "__kulisse_test_token__".to_owned(),
            otp: "123456".to_owned(),
            otp_id: "__kulisse_test_otp_id__".to_owned(),
            alert_info: "a test of the login alert".to_owned(),
            record: record.as_object().cloned().unwrap_or_default(),
            ..Placeholders::default()
        };
        let message = self.compose(&c, kind, email, values);
        self.send_now(&message)
            .await
            .map_err(|e| SettingsError::EmailTest(e.to_string()).into())
    }
}

/// The settings' sender.
fn sender(settings: &Settings) -> Address {
    Address {
        name: settings.meta.sender_name.clone(),
        email: settings.meta.sender_address.clone(),
    }
}
