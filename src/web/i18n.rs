//! The two UI languages (English, Simplified Chinese): choosing one from a cookie or
//! Accept-Language, the key -> text table in `strings.rs`, and translated field problems.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

use crate::domain::media::MediaError;
use crate::domain::money::MoneyError;
use crate::error::Problem;
use crate::web::strings::STRINGS;
use crate::web::strings_orders::ORDER_STRINGS;

/// Every (key, English, Chinese) of both tables.
fn all_strings() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    STRINGS.iter().chain(ORDER_STRINGS.iter())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    ZhHans,
}

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    T.get_or_init(|| all_strings().map(|(k, en, zh)| (*k, (*en, *zh))).collect())
}

impl Lang {
    /// The BCP 47 tag used in `<html lang>` and the `lang` cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhHans => "zh-Hans",
        }
    }

    /// Exactly `en` or `zh-Hans`.
    pub fn from_code(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "zh-Hans" => Some(Lang::ZhHans),
            _ => None,
        }
    }

    /// The best supported language of an Accept-Language header: any `zh*` is Simplified
    /// Chinese, any `en*` English; `None` when neither is acceptable.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (pos, part) in header.split(',').enumerate().take(32) {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|v| v.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if q.is_nan() || q <= 0.0 {
                continue;
            }
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::ZhHans
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            // Highest q wins; among equals, the first listed.
            if best.is_none_or(|(bq, bpos, _)| q > bq || (q == bq && pos < bpos)) {
                best = Some((q, pos, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }

    /// The text for `key`; the key itself when missing (a test keeps the table complete).
    pub fn s(self, key: &str) -> &'static str {
        match table().get_key_value(key) {
            Some((_, (en, zh))) => match self {
                Lang::En => en,
                Lang::ZhHans => zh,
            },
            None => {
                debug_assert!(false, "missing UI string {key:?}");
                "?"
            }
        }
    }

    /// `s(key)` with `{0}` replaced.
    pub fn f1(self, key: &str, a: impl Display) -> String {
        self.s(key).replace("{0}", &a.to_string())
    }

    /// `s(key)` with `{0}` and `{1}` replaced.
    pub fn f2(self, key: &str, a: impl Display, b: impl Display) -> String {
        self.s(key)
            .replace("{0}", &a.to_string())
            .replace("{1}", &b.to_string())
    }

    fn pick(self, en: String, zh: String) -> String {
        match self {
            Lang::En => en,
            Lang::ZhHans => zh,
        }
    }

    /// A field problem as a sentence in this language.
    pub fn problem(&self, p: &Problem) -> String {
        let t = *self;
        let s = |k: &str| t.s(k).to_string();
        match p {
            Problem::Required => s("problem.required"),
            Problem::TooLong { max } => t.f1("problem.too_long", max),
            Problem::TooShort { min } => t.f1("problem.too_short", min),
            Problem::ForbiddenCharacters => s("problem.forbidden_characters"),
            Problem::InvalidHandle => s("problem.invalid_handle"),
            Problem::HandleTaken => s("problem.handle_taken"),
            Problem::InvalidUrl => s("problem.invalid_url"),
            Problem::InvalidEmail => s("problem.invalid_email"),
            Problem::Money(e) => t.money(e),
            Problem::UnknownCurrency => s("problem.unknown_currency"),
            Problem::CompareAtNotHigher => s("problem.compare_at_not_higher"),
            Problem::NegativeNumber => s("problem.negative"),
            Problem::NumberTooLarge => s("problem.number_too_large"),
            Problem::NotANumber => s("problem.not_a_number"),
            Problem::TooMany { max } => t.f1("problem.too_many", max),
            Problem::Duplicate => s("problem.duplicate"),
            Problem::OptionNamesDiffer => s("problem.option_names_differ"),
            Problem::Media(e) => t.media(e),
            Problem::UnknownImage => s("problem.unknown_image"),
            Problem::InvalidTag => s("problem.invalid_tag"),
            Problem::InvalidChoice => s("problem.invalid_choice"),
            Problem::PasswordMismatch => s("problem.password_mismatch"),
            Problem::WrongType { expected } => t.pick(
                format!("Must be {expected}."),
                format!("类型应为 {expected}。"),
            ),
            Problem::OutOfRange { min, max } => t.f2("problem.out_of_range", min, max),
            Problem::OutOfStock { available } => t.f1("problem.out_of_stock", available),
            Problem::NotForSale => s("problem.not_for_sale"),
            Problem::UnknownVariant => s("problem.unknown_variant"),
            Problem::VariantRequired => s("problem.variant_required"),
            Problem::CurrencyMismatch => s("problem.currency_mismatch"),
            Problem::NotOffered => s("problem.not_offered"),
            Problem::NotShippedThere => s("problem.not_shipped_there"),
            Problem::InvalidCountry => s("problem.invalid_country"),
        }
    }

    fn money(self, e: &MoneyError) -> String {
        match e {
            MoneyError::Empty => self.s("problem.required").to_string(),
            MoneyError::Invalid => self.s("money.invalid").to_string(),
            MoneyError::Negative => self.s("problem.negative").to_string(),
            MoneyError::TooManyDecimals { allowed: 0 } => self.s("money.no_decimals").to_string(),
            MoneyError::TooManyDecimals { allowed } => self.f1("money.too_many_decimals", allowed),
            MoneyError::TooLarge => self.s("problem.number_too_large").to_string(),
        }
    }

    fn media(self, e: &MediaError) -> String {
        match e {
            MediaError::Empty => self.s("media.empty").to_string(),
            MediaError::TooLarge { max_bytes } => {
                self.f1("media.too_large", human_size(*max_bytes))
            }
            MediaError::NotAnImage => self.s("media.not_an_image").to_string(),
            MediaError::UnsupportedFormat => self.s("media.unsupported").to_string(),
            MediaError::TooManyPixels => self.s("media.too_many_pixels").to_string(),
            MediaError::Corrupt => self.s("media.corrupt").to_string(),
        }
    }
}

/// "10 MB"-style size for messages (binary units, as the limits are set).
fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB {
        let tenths = bytes * 10 / MIB;
        if tenths % 10 == 0 {
            format!("{} MiB", tenths / 10)
        } else {
            format!("{}.{} MiB", tenths / 10, tenths % 10)
        }
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages_and_keys_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in all_strings() {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.trim().is_empty(), "{k} has no English");
            assert!(!zh.trim().is_empty(), "{k} has no Chinese");
            assert_eq!(
                en.matches('{').count(),
                zh.matches('{').count(),
                "{k} placeholders differ"
            );
        }
    }

    /// Every `t.s("...")`, `t.f1("...")`, `t.f2("...")` or `Errs::with_form(_, "...")` key used in
    /// templates and web code is in the table.
    #[test]
    fn every_used_key_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut files = vec![];
        for sub in [dir.clone(), dir.join("templates")] {
            for entry in std::fs::read_dir(sub).unwrap() {
                let p = entry.unwrap().path();
                if p.extension().is_some_and(|e| e == "rs" || e == "html") {
                    files.push(p);
                }
            }
        }
        let mut missing = vec![];
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for pat in [".s(\"", ".f1(\"", ".f2(\"", "t.s(\""] {
                for (i, _) in text.match_indices(pat) {
                    let rest = &text[i + pat.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    let plain = key.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'
                    });
                    let starts = key.starts_with(|c: char| c.is_ascii_lowercase());
                    if plain && starts && key.contains('.') && !table().contains_key(key) {
                        missing.push(format!("{}: {key}", f.display()));
                    }
                }
            }
            // Keys passed around as plain strings ("error.csrf.title", "login.failed").
            for (i, _) in text.match_indices("\"") {
                let rest = &text[i + 1..];
                let Some(end) = rest.find('"') else { continue };
                let key = &rest[..end];
                let is_file = [".html", ".css", ".atom", ".toml"]
                    .iter()
                    .any(|x| key.ends_with(x));
                let looks_like_key = key.contains('.')
                    && !is_file
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
                    && all_strings().any(|(k, _, _)| k.split('.').next() == key.split('.').next());
                if looks_like_key && !table().contains_key(key) {
                    missing.push(format!("{}: {key}", f.display()));
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "missing UI strings: {missing:#?}");
    }

    #[test]
    fn accept_language() {
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.5"),
            Some(Lang::ZhHans)
        );
        assert_eq!(Lang::from_accept_language("en-GB,zh;q=0.8"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr, zh-TW;q=0.4, en;q=0.3"),
            Some(Lang::ZhHans)
        );
        assert_eq!(
            Lang::from_accept_language("en;q=0.2, zh-Hant;q=0.9"),
            Some(Lang::ZhHans)
        );
        assert_eq!(
            Lang::from_accept_language("zh;q=0, en;q=0.1"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("*"), None);
        assert_eq!(Lang::from_accept_language(""), None);
        assert_eq!(Lang::from_code("zh-Hans"), Some(Lang::ZhHans));
        assert_eq!(Lang::from_code("zh"), None);
    }

    #[test]
    fn every_problem_is_translated() {
        let problems = [
            Problem::Required,
            Problem::TooLong { max: 5 },
            Problem::TooShort { min: 8 },
            Problem::ForbiddenCharacters,
            Problem::InvalidHandle,
            Problem::HandleTaken,
            Problem::InvalidUrl,
            Problem::InvalidEmail,
            Problem::Money(MoneyError::Empty),
            Problem::Money(MoneyError::Invalid),
            Problem::Money(MoneyError::Negative),
            Problem::Money(MoneyError::TooManyDecimals { allowed: 0 }),
            Problem::Money(MoneyError::TooManyDecimals { allowed: 2 }),
            Problem::Money(MoneyError::TooLarge),
            Problem::UnknownCurrency,
            Problem::CompareAtNotHigher,
            Problem::NegativeNumber,
            Problem::NumberTooLarge,
            Problem::NotANumber,
            Problem::TooMany { max: 3 },
            Problem::Duplicate,
            Problem::Media(MediaError::Empty),
            Problem::Media(MediaError::TooLarge {
                max_bytes: 10 * 1024 * 1024,
            }),
            Problem::Media(MediaError::NotAnImage),
            Problem::Media(MediaError::UnsupportedFormat),
            Problem::Media(MediaError::TooManyPixels),
            Problem::Media(MediaError::Corrupt),
            Problem::UnknownImage,
            Problem::InvalidTag,
            Problem::InvalidChoice,
            Problem::PasswordMismatch,
            Problem::WrongType { expected: "string" },
            Problem::OutOfRange { min: 1, max: 1000 },
            Problem::OutOfStock { available: 2 },
            Problem::NotForSale,
            Problem::UnknownVariant,
            Problem::VariantRequired,
            Problem::CurrencyMismatch,
            Problem::NotOffered,
            Problem::NotShippedThere,
            Problem::InvalidCountry,
        ];
        for p in &problems {
            let en = Lang::En.problem(p);
            let zh = Lang::ZhHans.problem(p);
            assert!(
                !en.is_empty() && !zh.is_empty() && en != zh,
                "{p:?}: {en} / {zh}"
            );
            assert!(!en.contains('{') && !zh.contains('{'), "{p:?}: {en} / {zh}");
        }
        assert!(Lang::En.problem(&problems[1]).contains('5'));
        assert!(Lang::ZhHans
            .problem(&Problem::Media(MediaError::TooLarge {
                max_bytes: 10 * 1024 * 1024
            }))
            .contains("10 MiB"));
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(2048), "2 KiB");
    }
}
