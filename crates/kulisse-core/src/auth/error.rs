//! Why authentication failed or the requester may not act. Each variant's `Display` is
//! PocketBase's exact message (the CLI's own words for the superuser commands);
//! `http/error.rs` picks the status.

use std::borrow::Cow;

/// An authentication or access refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// An auth endpoint names no collection.
    #[error("Missing or invalid collection context.")]
    UnknownCollection,
    /// An auth endpoint names a collection that is not an auth collection.
    #[error("Missing or invalid auth collection context.")]
    NotAuthCollection,
    /// `auth-with-password` on a collection with password auth off.
    #[error("The collection is not configured to allow password authentication.")]
    PasswordAuthDisabled,
    /// Unknown identity or wrong password; PB compat: the two are never told apart.
    #[error("Failed to authenticate.")]
    InvalidCredentials,
    /// `request-otp` or `auth-with-otp` on a collection with OTP off.
    #[error("The collection is not configured to allow OTP authentication.")]
    OtpDisabled,
    /// An unknown, expired, used or wrong one-time password.
    #[error("Invalid or expired OTP.")]
    InvalidOtp,
    /// More attempts on a record's one-time passwords than its window allows.
    #[error("Too many attempts, please try again later with a new OTP.")]
    TooManyOtpAttempts,
    /// `auth-with-oauth2` on a collection with OAuth2 off.
    #[error("The collection is not configured to allow OAuth2 authentication.")]
    OAuth2Disabled,
    /// The provider refused the code, or its token failed kulisse's checks.
    #[error("Failed to fetch OAuth2 token.")]
    OAuth2Token,
    /// The provider's user could not be read.
    #[error("Failed to fetch OAuth2 user.")]
    OAuth2User,
    /// An unknown, expired or used MFA session.
    #[error("Invalid or expired MFA session.")]
    InvalidMfa,
    /// An MFA session opened by another record.
    #[error("Invalid MFA session.")]
    MfaOfAnotherRecord,
    /// The second factor is the method that opened the session.
    #[error("A different authentication method is required.")]
    MfaSameMethod,
    /// The collection's `authRule` is `null`: nobody may authenticate.
    #[error("The request doesn't satisfy the collection requirements to authenticate.")]
    AuthLocked,
    /// The record does not satisfy the collection's `authRule`.
    #[error("The request doesn't satisfy the collection requirements to authenticate.")]
    AuthRuleUnmet,
    /// A guest asked for something that needs an authenticated record.
    #[error("The request requires valid record authorization token.")]
    TokenRequired,
    /// `auth-refresh` by a record of another collection (named by the message: the
    /// requester's own collection, as kulisse has always answered).
    #[error("The request requires auth record from {collection} collection.")]
    OtherCollection {
        /// The requester's collection name.
        collection: String,
    },
    /// A record that is not a superuser asked for a superuser-only endpoint (collections,
    /// settings).
    #[error("The authorized record is not allowed to perform this action.")]
    SuperuserRequired,
    /// A superuser token from an address outside the settings' `superuserIPs`.
    #[error("You are not allowed to perform this request.")]
    SuperuserIpNotAllowed,
    /// CLI `superuser upsert|create` with an email that is not one.
    #[error("invalid email {email:?}")]
    InvalidSuperuserEmail {
        /// What was given.
        email: String,
    },
    /// CLI `superuser upsert|create` with a password under 8 characters.
    #[error("the password must be at least 8 characters")]
    SuperuserPasswordTooShort,
    /// The dashboard's install form with a bad or expired install token.
    #[error("The install link is invalid or has expired. Restart kulisse for a new one.")]
    InvalidInstallToken,
    /// Two install forms at once: the other one is making the first superuser.
    #[error("The first superuser is being created right now. Reload the page in a moment.")]
    InstallBusy,
    /// The install form once a superuser exists: the link works once.
    #[error("A superuser already exists. Sign in instead.")]
    AlreadyInstalled,
    /// CLI `superuser create` for an email that already has a superuser.
    #[error("superuser {email} already exists")]
    SuperuserExists {
        /// The email.
        email: String,
    },
}

impl AuthError {
    /// What the client is told.
    pub fn message(&self) -> Cow<'static, str> {
        self.to_string().into()
    }
}
