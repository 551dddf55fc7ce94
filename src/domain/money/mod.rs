//! money: integer minor units + ISO 4217; imports nothing from web/api/db.
//!
//! An amount is an `i64` count of the currency's minor unit (cents for EUR, yen for JPY, fils
//! for BHD). Floats never appear: parsing and formatting work on decimal strings, and all
//! arithmetic is checked.

use std::fmt;

/// An amount must be strictly below this many major units (e.g. 1,000,000,000.00 EUR is too much).
pub const MAX_MAJOR_UNITS: i64 = 1_000_000_000;

/// An ISO 4217 currency: its alphabetic code, how many decimal places its minor unit has, and a
/// display symbol when one is common and reasonably unambiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    pub code: &'static str,
    pub minor_units: u8,
    pub symbol: Option<&'static str>,
}

const fn cur(code: &'static str, minor_units: u8) -> Currency {
    Currency {
        code,
        minor_units,
        symbol: None,
    }
}

const fn sym(code: &'static str, minor_units: u8, symbol: &'static str) -> Currency {
    Currency {
        code,
        minor_units,
        symbol: Some(symbol),
    }
}

/// Every active ISO 4217 code that has a minor unit, sorted by code (`from_code` relies on it).
///
/// Source: ISO 4217 List One as published 2024-06-25, plus XCG (Caribbean guilder, added 2025).
/// Left out on purpose: codes without a minor unit (precious metals XAU/XAG/XPT/XPD, XDR, XSU,
/// XUA, the bond-market units XBA–XBD, and the XTS/XXX test/none codes).
static CURRENCIES: &[Currency] = &[
    cur("AED", 2),
    cur("AFN", 2),
    cur("ALL", 2),
    cur("AMD", 2),
    cur("ANG", 2),
    cur("AOA", 2),
    cur("ARS", 2),
    cur("AUD", 2),
    cur("AWG", 2),
    cur("AZN", 2),
    cur("BAM", 2),
    cur("BBD", 2),
    cur("BDT", 2),
    cur("BGN", 2),
    cur("BHD", 3),
    cur("BIF", 0),
    cur("BMD", 2),
    cur("BND", 2),
    cur("BOB", 2),
    cur("BOV", 2),
    cur("BRL", 2),
    cur("BSD", 2),
    cur("BTN", 2),
    cur("BWP", 2),
    cur("BYN", 2),
    cur("BZD", 2),
    cur("CAD", 2),
    cur("CDF", 2),
    cur("CHE", 2),
    cur("CHF", 2),
    cur("CHW", 2),
    cur("CLF", 4),
    cur("CLP", 0),
    sym("CNY", 2, "¥"),
    cur("COP", 2),
    cur("COU", 2),
    cur("CRC", 2),
    cur("CUC", 2),
    cur("CUP", 2),
    cur("CVE", 2),
    cur("CZK", 2),
    cur("DJF", 0),
    cur("DKK", 2),
    cur("DOP", 2),
    cur("DZD", 2),
    cur("EGP", 2),
    cur("ERN", 2),
    cur("ETB", 2),
    sym("EUR", 2, "€"),
    cur("FJD", 2),
    cur("FKP", 2),
    sym("GBP", 2, "£"),
    cur("GEL", 2),
    cur("GHS", 2),
    cur("GIP", 2),
    cur("GMD", 2),
    cur("GNF", 0),
    cur("GTQ", 2),
    cur("GYD", 2),
    cur("HKD", 2),
    cur("HNL", 2),
    cur("HTG", 2),
    cur("HUF", 2),
    cur("IDR", 2),
    sym("ILS", 2, "₪"),
    sym("INR", 2, "₹"),
    cur("IQD", 3),
    cur("IRR", 2),
    cur("ISK", 0),
    cur("JMD", 2),
    cur("JOD", 3),
    sym("JPY", 0, "¥"),
    cur("KES", 2),
    cur("KGS", 2),
    cur("KHR", 2),
    cur("KMF", 0),
    cur("KPW", 2),
    sym("KRW", 0, "₩"),
    cur("KWD", 3),
    cur("KYD", 2),
    cur("KZT", 2),
    cur("LAK", 2),
    cur("LBP", 2),
    cur("LKR", 2),
    cur("LRD", 2),
    cur("LSL", 2),
    cur("LYD", 3),
    cur("MAD", 2),
    cur("MDL", 2),
    cur("MGA", 2),
    cur("MKD", 2),
    cur("MMK", 2),
    cur("MNT", 2),
    cur("MOP", 2),
    cur("MRU", 2),
    cur("MUR", 2),
    cur("MVR", 2),
    cur("MWK", 2),
    cur("MXN", 2),
    cur("MXV", 2),
    cur("MYR", 2),
    cur("MZN", 2),
    cur("NAD", 2),
    sym("NGN", 2, "₦"),
    cur("NIO", 2),
    cur("NOK", 2),
    cur("NPR", 2),
    cur("NZD", 2),
    cur("OMR", 3),
    cur("PAB", 2),
    cur("PEN", 2),
    cur("PGK", 2),
    sym("PHP", 2, "₱"),
    cur("PKR", 2),
    cur("PLN", 2),
    cur("PYG", 0),
    cur("QAR", 2),
    cur("RON", 2),
    cur("RSD", 2),
    sym("RUB", 2, "₽"),
    cur("RWF", 0),
    cur("SAR", 2),
    cur("SBD", 2),
    cur("SCR", 2),
    cur("SDG", 2),
    cur("SEK", 2),
    cur("SGD", 2),
    cur("SHP", 2),
    cur("SLE", 2),
    cur("SOS", 2),
    cur("SRD", 2),
    cur("SSP", 2),
    cur("STN", 2),
    cur("SVC", 2),
    cur("SYP", 2),
    cur("SZL", 2),
    sym("THB", 2, "฿"),
    cur("TJS", 2),
    cur("TMT", 2),
    cur("TND", 3),
    cur("TOP", 2),
    sym("TRY", 2, "₺"),
    cur("TTD", 2),
    cur("TWD", 2),
    cur("TZS", 2),
    sym("UAH", 2, "₴"),
    cur("UGX", 0),
    sym("USD", 2, "$"),
    cur("USN", 2),
    cur("UYI", 0),
    cur("UYU", 2),
    cur("UYW", 4),
    cur("UZS", 2),
    cur("VED", 2),
    cur("VES", 2),
    sym("VND", 0, "₫"),
    cur("VUV", 0),
    cur("WST", 2),
    cur("XAF", 0),
    cur("XCD", 2),
    cur("XCG", 2),
    cur("XOF", 0),
    cur("XPF", 0),
    cur("YER", 2),
    cur("ZAR", 2),
    cur("ZMW", 2),
    cur("ZWG", 2),
];

/// All supported currencies, sorted by code (for a `<select>` in forms).
pub fn all_currencies() -> &'static [Currency] {
    CURRENCIES
}

impl Currency {
    pub const EUR: Currency = sym("EUR", 2, "€");
    pub const USD: Currency = sym("USD", 2, "$");
    pub const GBP: Currency = sym("GBP", 2, "£");
    pub const JPY: Currency = sym("JPY", 0, "¥");
    pub const CHF: Currency = cur("CHF", 2);

    /// Exact lookup of an uppercase three-letter code such as `"EUR"`. `"eur"` gives `None`;
    /// use [`Currency::parse_code`] for user input.
    pub fn from_code(code: &str) -> Option<Currency> {
        CURRENCIES
            .binary_search_by(|c| c.code.cmp(code))
            .ok()
            .map(|i| CURRENCIES[i])
    }

    /// Lenient lookup for user input: trims surrounding whitespace and uppercases ASCII letters,
    /// so `" eur "` gives EUR.
    pub fn parse_code(s: &str) -> Option<Currency> {
        let s = s.trim();
        if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        Currency::from_code(&s.to_ascii_uppercase())
    }

    /// How many minor units make one major unit: 100 for EUR, 1 for JPY, 1000 for BHD.
    pub fn minor_per_major(self) -> i64 {
        10_i64.pow(u32::from(self.minor_units))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// Serialised as its code, e.g. `"EUR"`.
impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

/// Deserialised from an exact uppercase code, e.g. `"EUR"`.
impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::from_code(&code).ok_or_else(|| {
            serde::de::Error::custom(format_args!("unknown ISO 4217 currency code {code:?}"))
        })
    }
}

/// Why an amount typed by a person could not be accepted. Messages are short and meant to follow
/// a field name ("Price must not be negative").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("is required")]
    Empty,
    #[error("must be a decimal number like 24.00")]
    Invalid,
    #[error("must not be negative")]
    Negative,
    #[error("{}", decimals_message("this currency", *allowed))]
    TooManyDecimals { allowed: u8 },
    #[error("is too large")]
    TooLarge,
}

fn decimals_message(who: &str, allowed: u8) -> String {
    match allowed {
        0 => format!("{who} has no decimal places"),
        1 => format!("{who} allows at most 1 decimal place"),
        n => format!("{who} allows at most {n} decimal places"),
    }
}

impl MoneyError {
    /// Like `Display`, but names the currency where that helps: "EUR allows at most 2 decimal
    /// places", "JPY has no decimal places".
    pub fn message_for(&self, currency: Currency) -> String {
        match self {
            MoneyError::TooManyDecimals { allowed } => decimals_message(currency.code, *allowed),
            other => other.to_string(),
        }
    }
}

/// An amount of money: a count of minor units in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses a non-negative decimal amount typed by a person: `"24"`, `"24.5"`, `"24.00"`.
    ///
    /// Surrounding ASCII whitespace is ignored. Only ASCII digits with at most one `.` followed
    /// by at most `currency.minor_units` digits are accepted: no sign, exponent, thousands
    /// separator or inner space. The value must be below [`MAX_MAJOR_UNITS`] major units.
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let s = amount.trim_ascii();
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        if let Some(rest) = s.strip_prefix('-') {
            return Err(if split_decimal(rest).is_some() {
                MoneyError::Negative
            } else {
                MoneyError::Invalid
            });
        }
        let (int, frac) = split_decimal(s).ok_or(MoneyError::Invalid)?;
        let allowed = currency.minor_units;
        if frac.len() > usize::from(allowed) {
            return Err(MoneyError::TooManyDecimals { allowed });
        }
        let mut major: i64 = 0;
        for b in int.bytes() {
            major = major
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .filter(|&m| m < MAX_MAJOR_UNITS)
                .ok_or(MoneyError::TooLarge)?;
        }
        // Pad the fraction to exactly `allowed` digits: "5" with 2 decimals is 50.
        let mut fraction: i64 = 0;
        for i in 0..usize::from(allowed) {
            let digit = frac.as_bytes().get(i).map_or(0, |b| b - b'0');
            fraction = fraction
                .checked_mul(10)
                .and_then(|f| f.checked_add(i64::from(digit)))
                .ok_or(MoneyError::TooLarge)?;
        }
        let minor = major
            .checked_mul(currency.minor_per_major())
            .and_then(|m| m.checked_add(fraction))
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money { minor, currency })
    }

    /// The plain decimal amount with exactly `minor_units` decimals and no grouping: `"24.00"`
    /// (EUR), `"1500"` (JPY), `"1.500"` (BHD), `"-1.00"`. [`Money::parse`] accepts it back
    /// (when not negative and within range); suitable for form `value=` attributes.
    pub fn amount_string(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let width = usize::from(self.currency.minor_units);
        if width == 0 {
            return format!("{sign}{abs}");
        }
        let per_major = 10_u64.pow(u32::from(self.currency.minor_units));
        format!("{sign}{}.{:0width$}", abs / per_major, abs % per_major)
    }

    /// For people: `"€24.00"` when the currency has a symbol, otherwise `"24.00 CHF"`;
    /// `"¥1500"` for JPY; negative amounts put the sign first: `"-€1.00"`.
    pub fn display(&self) -> String {
        let amount = self.amount_string();
        match self.currency.symbol {
            Some(symbol) => match amount.strip_prefix('-') {
                Some(abs) => format!("-{symbol}{abs}"),
                None => format!("{symbol}{amount}"),
            },
            None => format!("{amount} {}", self.currency.code),
        }
    }

    /// Sum of two amounts in the same currency; `None` on currency mismatch or `i64` overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money {
            minor: self.minor.checked_add(other.minor)?,
            currency: self.currency,
        })
    }

    /// Difference of two amounts in the same currency; `None` on currency mismatch or overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money {
            minor: self.minor.checked_sub(other.minor)?,
            currency: self.currency,
        })
    }

    /// The amount times a quantity; `None` on `i64` overflow.
    pub fn checked_mul(self, qty: i64) -> Option<Money> {
        Some(Money {
            minor: self.minor.checked_mul(qty)?,
            currency: self.currency,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// Splits `DIGITS` or `DIGITS.DIGITS` (ASCII digits only, at least one on each side of the dot)
/// into integer and fraction parts; anything else is `None`.
fn split_decimal(s: &str) -> Option<(&str, &str)> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) if !frac.is_empty() => (int, frac),
        Some(_) => return None,
        None => (s, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    (!int.is_empty() && digits(int) && digits(frac)).then_some((int, frac))
}

#[cfg(test)]
mod tests;
