//! PocketBase's mail templates: an auth collection's `{subject, body}` per kind of mail,
//! with `{APP_NAME}`, `{APP_URL}`, `{TOKEN}`, `{OTP}`, `{OTP_ID}`, `{ALERT_INFO}` and
//! `{RECORD:field}` placeholders.

use kulisse_schema::Collection;
use serde_json::Value;

/// Which mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// Verify an address (`verificationTemplate`).
    Verification,
    /// Reset a password (`resetPasswordTemplate`).
    PasswordReset,
    /// Confirm a new address (`confirmEmailChangeTemplate`).
    EmailChange,
    /// A one-time password (`otp.emailTemplate`).
    Otp,
    /// A login from a new location (`authAlert.emailTemplate`).
    LoginAlert,
}

impl TemplateKind {
    const ALL: [TemplateKind; 5] = [
        TemplateKind::Verification,
        TemplateKind::PasswordReset,
        TemplateKind::EmailChange,
        TemplateKind::Otp,
        TemplateKind::LoginAlert,
    ];

    /// Its name, as `POST /api/settings/test/email` takes it.
    pub fn name(self) -> &'static str {
        match self {
            TemplateKind::Verification => "verification",
            TemplateKind::PasswordReset => "password-reset",
            TemplateKind::EmailChange => "email-change",
            TemplateKind::Otp => "otp",
            TemplateKind::LoginAlert => "login-alert",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<TemplateKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Where the collection's options keep it.
    fn path(self) -> &'static [&'static str] {
        match self {
            TemplateKind::Verification => &["verificationTemplate"],
            TemplateKind::PasswordReset => &["resetPasswordTemplate"],
            TemplateKind::EmailChange => &["confirmEmailChangeTemplate"],
            TemplateKind::Otp => &["otp", "emailTemplate"],
            TemplateKind::LoginAlert => &["authAlert", "emailTemplate"],
        }
    }
}

/// A template's subject and HTML body, placeholders and all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    /// Subject line.
    pub subject: String,
    /// HTML body.
    pub body: String,
}

impl Template {
    /// Template `kind` of auth collection `c` (empty when it has none).
    pub fn of(c: &Collection, kind: TemplateKind) -> Template {
        let (first, rest) = kind.path().split_first().unwrap_or((&"", &[]));
        let mut template = c.auth.as_ref().and_then(|a| a.extra.get(*first));
        for key in rest {
            template = template.and_then(|v| v.get(*key));
        }
        let text = |key| {
            template
                .and_then(|t| t.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Template {
            subject: text("subject"),
            body: text("body"),
        }
    }

    /// The subject and body with `values` put in: as they are in the subject, HTML-escaped
    /// in the body (a user's name must not become markup in a mail).
    pub fn render(&self, values: &Placeholders) -> (String, String) {
        (
            values.fill(&self.subject, |s| s.to_owned()),
            values.fill(&self.body, escape_html),
        )
    }
}

/// What the placeholders stand for.
#[derive(Debug, Clone, Default)]
pub struct Placeholders {
    /// `{APP_NAME}`.
    pub app_name: String,
    /// `{APP_URL}` (the settings' `meta.appURL`, never a request's `Host`).
    pub app_url: String,
    /// `{TOKEN}`.
    pub token: String,
    /// `{OTP}`.
    pub otp: String,
    /// `{OTP_ID}`.
    pub otp_id: String,
    /// `{ALERT_INFO}`.
    pub alert_info: String,
    /// The record, for `{RECORD:field}`.
    pub record: serde_json::Map<String, Value>,
}

impl Placeholders {
    fn fill(&self, text: &str, escape: impl Fn(&str) -> String) -> String {
        let mut out = text
            .replace("{APP_NAME}", &escape(&self.app_name))
            .replace("{APP_URL}", self.app_url.trim_end_matches('/'))
            .replace("{TOKEN}", &self.token)
            .replace("{OTP}", &self.otp)
            .replace("{OTP_ID}", &self.otp_id)
            .replace("{ALERT_INFO}", &escape(&self.alert_info));
        for (field, value) in &self.record {
            let placeholder = format!("{{RECORD:{field}}}");
            if out.contains(&placeholder) {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                out = out.replace(&placeholder, &escape(&text));
            }
        }
        out
    }
}

/// `text` safe anywhere in HTML, quoted attributes included.
pub(super) fn escape_html(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kulisse_schema::CollectionKind;
    use serde_json::json;

    #[test]
    fn templates_are_found_and_filled_like_pocketbase() {
        let users = Collection::new("users", CollectionKind::Auth);
        let verification = Template::of(&users, TemplateKind::Verification);
        assert_eq!(verification.subject, "Verify your {APP_NAME} email");
        let otp = Template::of(&users, TemplateKind::Otp);
        assert!(otp.body.contains("{OTP}"), "{otp:?}");
        let values = Placeholders {
            app_name: "Acme <Shop>".into(),
            app_url: "https://acme.test/".into(),
            token: "t0k".into(),
            record: json!({"name": "<b>Ann</b>", "n": 3})
                .as_object()
                .unwrap()
                .clone(),
            ..Placeholders::default()
        };
        let template = Template {
            subject: "{APP_NAME}: hi {RECORD:name}".into(),
            body: "<a href=\"{APP_URL}/x/{TOKEN}\">{RECORD:name} {RECORD:n} {RECORD:none}</a>"
                .into(),
        };
        let (subject, body) = template.render(&values);
        assert_eq!(subject, "Acme <Shop>: hi <b>Ann</b>");
        assert_eq!(
            body,
            "<a href=\"https://acme.test/x/t0k\">&lt;b&gt;Ann&lt;/b&gt; 3 {RECORD:none}</a>"
        );
        assert_eq!(
            TemplateKind::parse("login-alert"),
            Some(TemplateKind::LoginAlert)
        );
        assert_eq!(TemplateKind::parse("nope"), None);
    }
}
