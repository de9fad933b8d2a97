//! `/api/oauth2-redirect`: where a provider sends the user back in the SDKs' popup flow.
//! The state is the realtime client id of the page that opened the popup; the code goes
//! to that page over its `@oauth2` subscription, which then ends.

use serde_json::json;

use super::OAuth2Service;

/// The custom realtime topic the popup flow listens on.
pub const TOPIC: &str = "@oauth2";

/// Whether the code reached the page waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirected {
    /// Handed over: the popup may close.
    Success,
    /// No page of that state waits on this node from that address.
    Failure,
}

impl OAuth2Service {
    /// Hands `code` (or the provider's `error`) to the realtime client `state`, which must
    /// be subscribed to `@oauth2` from the address `ip` of the redirected browser.
    pub fn redirect(&self, state: &str, code: &str, error: &str, ip: &str) -> Redirected {
        if state.is_empty() {
            return Redirected::Failure;
        }
        let mut data = json!({"state": state, "code": code});
        if !error.is_empty() {
            data["error"] = json!(error);
        }
        match self.realtime.send_once(state, ip, TOPIC, &data) {
            Ok(()) if error.is_empty() && !code.is_empty() => Redirected::Success,
            _ => Redirected::Failure,
        }
    }
}
