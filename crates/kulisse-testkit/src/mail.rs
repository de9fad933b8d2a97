//! The SMTP sink mail tests read: `KULISSE_TEST_SMTP` (`host:port`) names it, and every
//! message it receives becomes a file in the Maildir `KULISSE_TEST_MAILDIR` (the test
//! script starts aiosmtpd). Tests send to addresses of their own and read those.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A received message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `From`.
    pub from: String,
    /// `To`.
    pub to: String,
    /// `Subject`, decoded.
    pub subject: String,
    /// The HTML body, decoded.
    pub body: String,
    /// The plain-text alternative, decoded (empty if there is none).
    pub text: String,
    /// `Content-Type`.
    pub content_type: String,
}

/// The `smtp` settings (as `PATCH /api/settings` takes them) of the test SMTP sink, if one
/// was started. Under CI (`CI=true`) a missing sink fails the test.
pub fn smtp_settings() -> Option<Value> {
    let server = std::env::var("KULISSE_TEST_SMTP")
        .ok()
        .filter(|s| !s.is_empty());
    assert!(
        server.is_some() || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but KULISSE_TEST_SMTP names no SMTP sink"
    );
    let (host, port) = server?
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))?;
    Some(json!({"enabled": true, "host": host, "port": port.parse::<u16>().ok()?}))
}

/// The decoded body of the `mimetype` part of `mail` (itself, or one of its parts).
fn part_of(mail: &mailparse::ParsedMail<'_>, mimetype: &str) -> String {
    if mail.ctype.mimetype == mimetype {
        return mail.get_body().unwrap_or_default();
    }
    mail.subparts
        .iter()
        .map(|p| part_of(p, mimetype))
        .find(|b| !b.is_empty())
        .unwrap_or_default()
}

/// Whether a `To` header (`addr` or `"Name" <addr>`) names exactly `address`: test
/// addresses share parts (a server's port), so a part must never match.
fn addressed_to(to: &str, address: &str) -> bool {
    let named = match (to.rfind('<'), to.rfind('>')) {
        (Some(open), Some(close)) if open < close => &to[open + 1..close],
        _ => to,
    };
    named.trim().eq_ignore_ascii_case(address)
}

/// The messages the sink received for `address`, waiting up to 10 s until there are at
/// least `n`.
pub async fn mail_to(address: &str, n: usize) -> Vec<Mail> {
    let dir = std::path::PathBuf::from(
        std::env::var("KULISSE_TEST_MAILDIR")
            .expect("KULISSE_TEST_MAILDIR names the sink's Maildir"),
    )
    .join("new");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found: Vec<(std::time::SystemTime, Mail)> = Vec::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let Ok(parsed) = mailparse::parse_mail(&bytes) else {
                continue;
            };
            let header = |name: &str| {
                mailparse::MailHeaderMap::get_first_value(parsed.headers.as_slice(), name)
                    .unwrap_or_default()
            };
            if !addressed_to(&header("To"), address) {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            found.push((
                modified,
                Mail {
                    from: header("From"),
                    to: header("To"),
                    subject: header("Subject"),
                    body: part_of(&parsed, "text/html"),
                    text: part_of(&parsed, "text/plain"),
                    content_type: parsed.ctype.mimetype.clone(),
                },
            ));
        }
        if found.len() >= n || Instant::now() > deadline {
            found.sort_by_key(|(t, _)| *t);
            return found.into_iter().map(|(_, m)| m).collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::addressed_to;

    #[test]
    fn only_the_whole_address_matches() {
        assert!(addressed_to("a1@example.com", "a1@example.com"));
        assert!(addressed_to("\"Ann\" <A1@example.com>", "a1@example.com"));
        assert!(!addressed_to("xa1@example.com", "a1@example.com"));
        assert!(!addressed_to("\"Ann\" <xa1@example.com>", "a1@example.com"));
    }
}
