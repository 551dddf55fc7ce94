//! Checks shared by every text field: trimming, length in characters, and characters we never
//! store (NUL, other control characters, bidirectional overrides that disguise text).

use crate::error::{FieldErrors, Problem};

/// Characters that reorder text invisibly (Trojan-source style) or break storage.
pub fn is_forbidden_char(c: char, allow_newlines: bool) -> bool {
    match c {
        '\n' | '\t' | '\r' => !allow_newlines,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => true,
        c => c.is_control(),
    }
}

/// Trims and checks one field. Records a problem in `errors` and returns `None` if it fails.
/// `min` of 0 makes the field optional (an empty string is returned as `Some("")`).
pub fn check(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Option<String> {
    let v = value.trim();
    if v.is_empty() && min > 0 {
        errors.add(field, Problem::Required);
        return None;
    }
    let len = v.chars().count();
    if len > max {
        errors.add(field, Problem::TooLong { max });
        return None;
    }
    if len < min {
        errors.add(field, Problem::TooShort { min });
        return None;
    }
    if v.chars().any(|c| is_forbidden_char(c, multiline)) {
        errors.add(field, Problem::ForbiddenCharacters);
        return None;
    }
    // Normalise line endings so stored text is stable.
    Some(if multiline {
        v.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        v.to_string()
    })
}

/// An absolute http(s) URL without credentials, at most 500 characters.
pub fn check_url(errors: &mut FieldErrors, field: &str, value: &str) -> Option<String> {
    let v = value.trim();
    if v.chars().count() > 500 {
        errors.add(field, Problem::TooLong { max: 500 });
        return None;
    }
    match url::Url::parse(v) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Some(u.to_string())
        }
        _ => {
            errors.add(field, Problem::InvalidUrl);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_control_and_bidi_characters() {
        let mut e = FieldErrors::new();
        assert!(check(&mut e, "t", "ok\u{202E}txt", 1, 100, false).is_none());
        assert!(check(&mut e, "n", "nul\0", 1, 100, false).is_none());
        assert!(check(&mut e, "m", "line\nbreak", 1, 100, false).is_none());
        assert_eq!(e.0.len(), 3);
        let mut e = FieldErrors::new();
        assert_eq!(
            check(&mut e, "d", " a\r\nb ", 0, 100, true).as_deref(),
            Some("a\nb")
        );
        assert!(e.is_empty());
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let mut e = FieldErrors::new();
        assert!(check(&mut e, "t", "茶茶茶", 1, 3, false).is_some());
        assert!(check(&mut e, "t", "茶茶茶茶", 1, 3, false).is_none());
        assert_eq!(e.get("t"), Some(&Problem::TooLong { max: 3 }));
    }

    #[test]
    fn urls_must_be_http() {
        let mut e = FieldErrors::new();
        assert!(check_url(&mut e, "u", "javascript:alert(1)").is_none());
        assert!(check_url(&mut e, "v", "https://user:pw@x.example/").is_none());
        assert!(check_url(&mut e, "w", "https://tea.example/about").is_some());
        assert_eq!(e.0.len(), 2);
    }
}
