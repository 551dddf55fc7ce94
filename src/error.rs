//! The one error type. A kind (mapped to an HTTP status by `web` and `api`), a message that is
//! safe to show, per-field problems for validation, and the hidden cause for the log.
//! Imports no axum: the HTTP mapping is a plain status number.

use std::collections::BTreeMap;
use std::fmt;

use crate::domain::media::MediaError;
use crate::domain::money::MoneyError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a client can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Input failed validation; see `fields`.
    Validation,
    /// Malformed request that is not about a particular field.
    BadRequest,
    /// No or bad credentials.
    Unauthorized,
    /// Authenticated but not allowed.
    Forbidden,
    NotFound,
    /// The request conflicts with stored state (e.g. a duplicate).
    Conflict,
    PayloadTooLarge,
    RateLimited,
    /// Our fault; details only in the log.
    Internal,
    /// Another server failed or sent something unusable.
    BadGateway,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Validation => 422,
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::BadGateway => 502,
        }
    }
}

/// One problem with one input field. English text via `Display`; `web::i18n` translates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    Required,
    TooLong {
        max: usize,
    },
    TooShort {
        min: usize,
    },
    /// Control characters, NUL or bidirectional overrides.
    ForbiddenCharacters,
    InvalidHandle,
    HandleTaken,
    InvalidUrl,
    InvalidEmail,
    Money(MoneyError),
    UnknownCurrency,
    CompareAtNotHigher,
    NegativeNumber,
    NumberTooLarge,
    NotANumber,
    TooMany {
        max: usize,
    },
    Duplicate,
    /// Variants of one product must name the same options in the same order.
    OptionNamesDiffer,
    Media(MediaError),
    UnknownImage,
    InvalidTag,
    InvalidChoice,
    PasswordMismatch,
    /// The JSON value has the wrong type (`expected` is "string", "integer", "array", ...).
    WrongType {
        expected: &'static str,
    },
    /// A whole number outside `min..=max` (quantities, hours, team sizes).
    OutOfRange {
        min: i64,
        max: i64,
    },
    /// Fewer units left than asked for.
    OutOfStock {
        available: i64,
    },
    /// Not a published product of this shop.
    NotForSale,
    /// The product has no variant with this id or SKU.
    UnknownVariant,
    /// The product has variants and one must be chosen.
    VariantRequired,
    /// Mixes currencies (lines, shipping) that one order cannot hold.
    CurrencyMismatch,
    /// The shop does not offer this (payment method, shipping option).
    NotOffered,
    /// No shipping option of the shop delivers to this country.
    NotShippedThere,
    /// Not an ISO 3166-1 alpha-2 country code.
    InvalidCountry,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => f.write_str("is required"),
            Problem::TooLong { max } => write!(f, "is too long (at most {max} characters)"),
            Problem::TooShort { min } => write!(f, "is too short (at least {min} characters)"),
            Problem::ForbiddenCharacters => f.write_str("contains control or direction-override characters"),
            Problem::InvalidHandle => f.write_str(
                "must be 1 to 30 characters: lowercase letters, digits and underscores, starting with a letter",
            ),
            Problem::HandleTaken => f.write_str("is already taken"),
            Problem::InvalidUrl => f.write_str("must be an http or https URL"),
            Problem::InvalidEmail => f.write_str("must be an e-mail address"),
            Problem::Money(e) => write!(f, "{e}"),
            Problem::UnknownCurrency => f.write_str("is not an ISO 4217 currency code"),
            Problem::CompareAtNotHigher => f.write_str("must be higher than the price"),
            Problem::NegativeNumber => f.write_str("must not be negative"),
            Problem::NumberTooLarge => f.write_str("is too large"),
            Problem::NotANumber => f.write_str("must be a whole number"),
            Problem::TooMany { max } => write!(f, "has too many entries (at most {max})"),
            Problem::Duplicate => f.write_str("contains a duplicate"),
            Problem::OptionNamesDiffer => {
                f.write_str("must name the same options, in the same order, as the first variant")
            }
            Problem::Media(e) => write!(f, "{e}"),
            Problem::UnknownImage => f.write_str("refers to an unknown image"),
            Problem::InvalidTag => f.write_str(
                "tags are 1 to 40 letters, digits or underscores, and at most 20 per product",
            ),
            Problem::InvalidChoice => f.write_str("is not one of the allowed values"),
            Problem::PasswordMismatch => f.write_str("does not match"),
            Problem::WrongType { expected } => write!(f, "must be {expected}"),
            Problem::OutOfRange { min, max } => write!(f, "must be a whole number from {min} to {max}"),
            Problem::OutOfStock { available } => write!(f, "exceeds the stock ({available} left)"),
            Problem::NotForSale => f.write_str("is not for sale in this shop"),
            Problem::UnknownVariant => f.write_str("is not a variant of this product"),
            Problem::VariantRequired => f.write_str("must name a variant of this product"),
            Problem::CurrencyMismatch => f.write_str("mixes currencies that one order cannot hold"),
            Problem::NotOffered => f.write_str("is not offered by this shop"),
            Problem::NotShippedThere => f.write_str("is a country this shop does not ship to"),
            Problem::InvalidCountry => f.write_str("must be a two-letter country code (ISO 3166-1)"),
        }
    }
}

/// Field name -> problem, in a stable order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, Problem>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, p: Problem) {
        self.0.entry(field.into()).or_insert(p);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn get(&self, field: &str) -> Option<&Problem> {
        self.0.get(field)
    }
    /// `Ok(())` when empty, else a validation error carrying these fields.
    pub fn into_result(self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self))
        }
    }
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    /// Safe to show to the client.
    pub message: String,
    pub fields: FieldErrors,
    /// Logged, never shown.
    pub cause: Option<anyhow::Error>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            fields: FieldErrors::new(),
            cause: None,
        }
    }
    pub fn validation(fields: FieldErrors) -> Self {
        Error {
            fields,
            ..Error::new(ErrorKind::Validation, "validation failed")
        }
    }
    /// A validation error about one field.
    pub fn field(field: &str, p: Problem) -> Self {
        let mut f = FieldErrors::new();
        f.add(field, p);
        Error::validation(f)
    }
    pub fn not_found(what: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("{what} not found"))
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Forbidden, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthorized, message)
    }
    pub fn not_found_msg(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadGateway, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadRequest, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, message)
    }
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error {
            cause: Some(cause.into()),
            ..Error::new(ErrorKind::Internal, "internal error")
        }
    }
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for (k, v) in &self.fields.0 {
            write!(f, "; {k} {v}")?;
        }
        if let Some(c) = &self.cause {
            write!(f, " ({c:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::internal(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal(e)
    }
}
