//! What every page shares: the frame around it (title, assets, the signed-in superuser's
//! bar and collections), the headers every page is sent with, and the message pages.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kulisse_http::AppState;

use crate::assets;
use crate::session::Session;

/// Scripts and styles from the dashboard's own embedded files only: a value that slipped
/// past escaping still could not run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The frame of a page.
pub(crate) struct Chrome {
    /// The page's own title (the tab shows it before the app's name).
    pub title: String,
    /// The application's name, from the settings.
    pub app_name: String,
    /// The stylesheet's address.
    pub css: String,
    /// htmx's address.
    pub htmx: String,
    /// The dashboard's own script's address.
    pub js: String,
    /// The signed-in superuser's bar and collections; none on the login pages.
    pub nav: Option<Nav>,
}

/// The bar and the sidebar of a signed-in page.
pub(crate) struct Nav {
    /// The superuser's address.
    pub email: String,
    /// The session's form token (every state-changing form carries it).
    pub csrf: String,
    /// Every collection, the app's first, then the system ones.
    pub collections: Vec<NavLink>,
}

/// A collection in the sidebar.
pub(crate) struct NavLink {
    pub name: String,
    pub href: String,
    pub kind: &'static str,
    pub current: bool,
}

impl Chrome {
    /// The frame of a page nobody needs to be signed in for.
    pub(crate) fn public(title: impl Into<String>, state: Option<&AppState>) -> Chrome {
        Chrome {
            title: title.into(),
            app_name: state.map_or_else(
                || "kulisse".to_owned(),
                |s| s.services.settings.snapshot().meta.app_name.clone(),
            ),
            css: assets::url("admin.css"),
            htmx: assets::url("htmx-2.0.11.min.js"),
            js: assets::url("admin.js"),
            nav: None,
        }
    }

    /// The frame of a signed-in page, with `current` marked in the sidebar.
    pub(crate) fn signed_in(
        title: impl Into<String>,
        state: &AppState,
        session: &Session,
        current: Option<&str>,
    ) -> Chrome {
        let mut collections: Vec<_> = state
            .services
            .collections
            .all(&session.auth)
            .unwrap_or_default();
        collections.sort_by(|a, b| (a.system, &a.name).cmp(&(b.system, &b.name)));
        let collections = collections
            .iter()
            .map(|c| NavLink {
                href: collection_href(&c.name),
                kind: c.kind.as_str(),
                current: current == Some(c.name.as_str()),
                name: c.name.clone(),
            })
            .collect();
        Chrome {
            nav: Some(Nav {
                email: session.email.clone(),
                csrf: session.csrf.clone(),
                collections,
            }),
            ..Chrome::public(title, Some(state))
        }
    }
}

/// The dashboard's address of a collection's records.
pub(crate) fn collection_href(name: &str) -> String {
    format!("/_/collections/{}", segment(name))
}

/// `s` as one segment of an address (a name or id, whatever it holds).
pub(crate) fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `template` as a page with `status`, and the headers every page gets: the CSP, never
/// cached (pages show data), no referrer to other sites.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    let body = match template.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a dashboard page failed to render");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A page that only says something.
#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    chrome: Chrome,
    heading: &'static str,
    text: String,
}

pub(crate) fn message(
    status: StatusCode,
    heading: &'static str,
    text: impl Into<String>,
) -> Response {
    render(
        status,
        &Message {
            chrome: Chrome::public(heading, None),
            heading,
            text: text.into(),
        },
    )
}

/// Any dashboard address that is no page.
pub(crate) async fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such page in the dashboard.",
    )
}

/// A superuser from an address the settings' `superuserIPs` leave out.
pub(crate) fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed from here",
        "Superusers may not sign in from this address (settings: superuser IPs).",
    )
}

/// A state-changing request from another site, or without the session's form token.
pub(crate) fn forgery() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form did not come from this dashboard, or its page is too old. Go back, reload the page and try again.",
    )
}

/// A form that could not be read.
pub(crate) fn bad_form() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Bad form",
        "The form could not be read.",
    )
}
