//! Reading submitted forms (URL-encoded or multipart) into one `FormData` with per-field
//! limits, and turning field problems into translated messages for templates.

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use axum::Form;

use crate::domain::media::MediaError;
use crate::error::{Error, ErrorKind, FieldErrors, Problem};
use crate::server::AppState;
use crate::web::errors::WebError;
use crate::web::i18n::Lang;

/// Most fields one form may have (a product form with many variant rows has about 60).
const MAX_FIELDS: usize = 600;
/// Largest text field, in bytes (descriptions are at most 20,000 characters).
const MAX_TEXT_BYTES: usize = 128 * 1024;

/// A submitted form: text fields, uploaded files, and problems found while reading it.
#[derive(Debug, Default)]
pub struct FormData {
    texts: HashMap<String, String>,
    files: HashMap<String, Vec<u8>>,
    /// Non-UTF-8 text, oversized fields and files.
    pub problems: FieldErrors,
}

impl FormData {
    /// A text field, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.texts.get(name).map_or("", String::as_str)
    }

    /// Whether a text field was sent at all (checkboxes are sent only when ticked).
    pub fn has(&self, name: &str) -> bool {
        self.texts.contains_key(name)
    }

    /// A non-empty uploaded file.
    pub fn take_file(&mut self, name: &str) -> Option<Vec<u8>> {
        self.files.remove(name).filter(|b| !b.is_empty())
    }

    /// Whether a non-empty file was uploaded in field `name`.
    pub fn has_file(&self, name: &str) -> bool {
        self.files.get(name).is_some_and(|b| !b.is_empty())
    }

    /// The hidden `csrf` field.
    pub fn csrf(&self) -> &str {
        self.text("csrf")
    }

    fn add_text(&mut self, name: String, value: String) {
        self.texts.entry(name).or_insert(value);
    }
}

impl FromRequest<AppState> for FormData {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let is_multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !is_multipart {
            let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(|_| Error::bad_request("not a form"))?;
            if pairs.len() > MAX_FIELDS {
                return Err(Error::bad_request("too many fields").into());
            }
            let mut form = FormData::default();
            for (k, v) in pairs {
                if v.len() > MAX_TEXT_BYTES {
                    form.problems.add(
                        &k,
                        Problem::TooLong {
                            max: MAX_TEXT_BYTES,
                        },
                    );
                    continue;
                }
                form.add_text(k, v);
            }
            return Ok(form);
        }
        let mut mp = Multipart::from_request(req, state)
            .await
            .map_err(|_| Error::bad_request("not a multipart form"))?;
        read_multipart(&mut mp, state.settings.max_upload_bytes).await
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> WebError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::new(ErrorKind::PayloadTooLarge, "the form is too large").into()
    } else {
        Error::bad_request(format!("unreadable form: {}", e.body_text())).into()
    }
}

async fn read_multipart(mp: &mut Multipart, max_file: usize) -> Result<FormData, WebError> {
    let mut form = FormData::default();
    let mut count = 0;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(Error::bad_request("too many fields").into());
        }
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field.file_name().is_some();
        let limit = if is_file { max_file } else { MAX_TEXT_BYTES };
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if too_large {
                continue; // drain the rest of this field
            }
            if bytes.len() + chunk.len() > limit {
                too_large = true;
                bytes = Vec::new();
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        if too_large {
            let p = if is_file {
                Problem::Media(MediaError::TooLarge {
                    max_bytes: max_file,
                })
            } else {
                Problem::TooLong {
                    max: MAX_TEXT_BYTES,
                }
            };
            form.problems.add(&name, p);
        } else if is_file {
            form.files.entry(name).or_insert(bytes);
        } else {
            match String::from_utf8(bytes) {
                Ok(s) => form.add_text(name, s),
                Err(_) => form.problems.add(&name, Problem::ForbiddenCharacters),
            }
        }
    }
    Ok(form)
}

/// Adds a validation error's fields to `problems`; other errors are returned.
pub fn merge_validation(problems: &mut FieldErrors, r: Result<(), Error>) -> Result<(), WebError> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::Validation => {
            for (f, p) in e.fields.0 {
                problems.add(f, p);
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Field name -> translated message, for templates.
#[derive(Clone, Debug, Default)]
pub struct Errs {
    fields: HashMap<String, String>,
    /// A message about the whole form (shown above it).
    pub form: Option<String>,
}

impl Errs {
    pub fn none() -> Errs {
        Errs::default()
    }

    /// Translates `errors`, renaming each field with `rename` (domain name -> form field).
    pub fn from_fields(t: Lang, errors: &FieldErrors, rename: impl Fn(&str) -> String) -> Errs {
        let mut out = Errs::default();
        for (field, p) in &errors.0 {
            out.fields
                .entry(rename(field))
                .or_insert_with(|| t.problem(p));
        }
        if !out.fields.is_empty() {
            out.form = Some(t.s("form.has_errors").to_string());
        }
        out
    }

    pub fn with_form(t: Lang, key: &str) -> Errs {
        Errs::with_message(t.s(key).to_string())
    }

    pub fn with_message(message: String) -> Errs {
        Errs {
            fields: HashMap::new(),
            form: Some(message),
        }
    }

    /// One field's message, already translated (no form-level message).
    pub fn with_field(field: &str, message: String) -> Errs {
        let mut out = Errs::default();
        out.fields.insert(field.to_string(), message);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.form.is_none()
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// ` aria-invalid="true" aria-describedby="<field>-error"` when the field has an error,
    /// plus the hint's id when `hint` is set. `field` is always one of our own names.
    pub fn aria(&self, field: &str, hint: bool) -> String {
        let mut ids = Vec::new();
        if hint {
            ids.push(format!("{field}-hint"));
        }
        let mut out = String::new();
        if self.has(field) {
            ids.push(format!("{field}-error"));
            out.push_str(" aria-invalid=\"true\"");
        }
        if !ids.is_empty() {
            out.push_str(&format!(" aria-describedby=\"{}\"", ids.join(" ")));
        }
        out
    }
}

/// The user's input for a whole-number field; a problem when it is not one. Empty means 0.
pub fn whole_number(errors: &mut FieldErrors, field: &str, value: &str) -> i64 {
    let v = value.trim();
    if v.is_empty() {
        return 0;
    }
    match v.parse::<i64>() {
        Ok(n) => n,
        Err(_)
            if v.trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit()) =>
        {
            errors.add(field, Problem::NumberTooLarge);
            0
        }
        Err(_) => {
            errors.add(field, Problem::NotANumber);
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked() {
        let mut e = FieldErrors::new();
        assert_eq!(whole_number(&mut e, "a", " 12 "), 12);
        assert_eq!(whole_number(&mut e, "b", ""), 0);
        assert_eq!(whole_number(&mut e, "c", "1.5"), 0);
        assert_eq!(whole_number(&mut e, "d", "99999999999999999999"), 0);
        assert_eq!(e.get("c"), Some(&Problem::NotANumber));
        assert_eq!(e.get("d"), Some(&Problem::NumberTooLarge));
    }

    #[test]
    fn errors_point_at_their_messages() {
        let mut f = FieldErrors::new();
        f.add("links[0].url", Problem::InvalidUrl);
        let e = Errs::from_fields(Lang::En, &f, |k| k.replace("links[0].url", "link_url_0"));
        assert!(e.has("link_url_0"));
        assert_eq!(
            e.aria("link_url_0", true),
            " aria-invalid=\"true\" aria-describedby=\"link_url_0-hint link_url_0-error\""
        );
        assert_eq!(e.aria("title", false), "");
        assert!(e.form.is_some());
    }
}
