//! Reading JSON request bodies into domain inputs. A malformed body is a 400; a value of the
//! wrong type is a 422 naming the field, the same shape as any other validation error.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

use super::ApiError;
use crate::domain::catalog::{ImageForm, ShopLink, VariantForm, VariantOption};
use crate::error::{Error, ErrorKind, FieldErrors, Problem, Result};
use crate::server::AppState;

/// A JSON object body.
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !is_json {
            return Err(Error::bad_request(
                "expected a JSON body with Content-Type: application/json",
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(ErrorKind::PayloadTooLarge, "request body too large")
            } else {
                Error::bad_request("could not read the request body")
            }
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(Error::bad_request("the body must be a JSON object").into()),
            Err(e) => Err(Error::bad_request(format!("invalid JSON: {e}")).into()),
        }
    }
}

/// Pulls typed fields out of a JSON object, collecting type problems per field.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    pub errors: FieldErrors,
}

const STRING: &str = "a string";
const INTEGER: &str = "a whole number";

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Fields {
            obj,
            errors: FieldErrors::new(),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    /// Absent or null -> `None`.
    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.errors
                    .add(key, Problem::WrongType { expected: STRING });
                None
            }
        }
    }

    /// For PATCH of a clearable field: absent -> `None`, null -> `Some(None)`.
    pub fn nullable_string(&mut self, key: &str) -> Option<Option<String>> {
        match self.obj.get(key) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.errors
                    .add(key, Problem::WrongType { expected: STRING });
                None
            }
        }
    }

    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.errors.add(
                    key,
                    Problem::WrongType {
                        expected: "true or false",
                    },
                );
                None
            }
        }
    }

    pub fn integer(&mut self, key: &str) -> Option<i64> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => integer_value(&mut self.errors, key, v),
        }
    }

    pub fn string_array(&mut self, key: &str) -> Option<Vec<String>> {
        let items = self.array(key, "an array of strings")?;
        let mut out = Vec::new();
        for v in items {
            match v {
                Value::String(s) => out.push(s.clone()),
                _ => {
                    self.errors.add(
                        key,
                        Problem::WrongType {
                            expected: "an array of strings",
                        },
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn array(&mut self, key: &str, expected: &'static str) -> Option<&'a Vec<Value>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                self.errors.add(key, Problem::WrongType { expected });
                None
            }
        }
    }

    /// A nested object; absent or null -> `None`.
    pub fn object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                self.errors.add(
                    key,
                    Problem::WrongType {
                        expected: "an object",
                    },
                );
                None
            }
        }
    }

    /// The items of an array of objects (see `objects`), for callers that read each item.
    pub fn object_items(
        &mut self,
        key: &str,
        expected: &'static str,
    ) -> Option<Vec<&'a Map<String, Value>>> {
        self.objects(key, expected)
    }

    /// An array whose items must all be objects.
    fn objects(
        &mut self,
        key: &str,
        expected: &'static str,
    ) -> Option<Vec<&'a Map<String, Value>>> {
        let items = self.array(key, expected)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            match v.as_object() {
                Some(o) => out.push(o),
                None => {
                    self.errors.add(
                        format!("{key}[{i}]"),
                        Problem::WrongType {
                            expected: "an object",
                        },
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    /// `[{"id": "...", "alt": "..."}]`
    pub fn images(&mut self, key: &str) -> Option<Vec<ImageForm>> {
        let items = self.objects(key, "an array of {\"id\", \"alt\"} objects")?;
        let mut out = Vec::new();
        for (i, o) in items.into_iter().enumerate() {
            let mut f = Fields::new(o);
            let id = f.string("id").unwrap_or_default();
            let alt = f.string("alt").unwrap_or_default();
            self.absorb(&format!("{key}[{i}]."), f.errors)?;
            out.push(ImageForm { id, alt });
        }
        Some(out)
    }

    /// `[{"label": "...", "url": "..."}]`
    pub fn links(&mut self, key: &str) -> Option<Vec<ShopLink>> {
        let items = self.objects(key, "an array of {\"label\", \"url\"} objects")?;
        let mut out = Vec::new();
        for (i, o) in items.into_iter().enumerate() {
            let mut f = Fields::new(o);
            let label = f.string("label").unwrap_or_default();
            let url = f.string("url").unwrap_or_default();
            self.absorb(&format!("{key}[{i}]."), f.errors)?;
            out.push(ShopLink { label, url });
        }
        Some(out)
    }

    /// `[{"sku", "options": [{"name","value"}] or {"Size": "M"}, "price"?, "stock"}]`
    pub fn variants(&mut self, key: &str) -> Option<Vec<VariantForm>> {
        let items = self.objects(key, "an array of variant objects")?;
        let mut out = Vec::new();
        for (i, o) in items.into_iter().enumerate() {
            let mut f = Fields::new(o);
            let sku = f.string("sku").unwrap_or_default();
            let price = f.string("price");
            let stock = f.integer("stock").unwrap_or(0);
            let options = match o.get("options") {
                None | Some(Value::Null) => vec![],
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| VariantOption {
                        name: k.clone(),
                        value: v.as_str().unwrap_or_default().into(),
                    })
                    .collect(),
                Some(Value::Array(a)) => {
                    let mut opts = Vec::new();
                    for item in a {
                        let name = item.get("name").and_then(Value::as_str);
                        let value = item.get("value").and_then(Value::as_str);
                        match (name, value) {
                            (Some(n), Some(v)) => opts.push(VariantOption {
                                name: n.into(),
                                value: v.into(),
                            }),
                            _ => f.errors.add(
                                "options",
                                Problem::WrongType {
                                    expected: "an array of {\"name\", \"value\"} strings",
                                },
                            ),
                        }
                    }
                    opts
                }
                Some(_) => {
                    f.errors.add(
                        "options",
                        Problem::WrongType {
                            expected: "an object or an array",
                        },
                    );
                    vec![]
                }
            };
            self.absorb(&format!("{key}[{i}]."), f.errors)?;
            out.push(VariantForm {
                sku,
                options,
                price,
                stock,
            });
        }
        Some(out)
    }

    /// Adds a nested object's problems under `prefix` (e.g. `lines[0].`); `None` if any.
    pub fn absorb(&mut self, prefix: &str, errors: FieldErrors) -> Option<()> {
        if errors.is_empty() {
            return Some(());
        }
        for (k, p) in errors.0 {
            self.errors.add(format!("{prefix}{k}"), p);
        }
        None
    }

    /// Fails with every type problem found so far.
    pub fn finish(self) -> Result<()> {
        self.errors.into_result()
    }
}

fn integer_value(errors: &mut FieldErrors, key: &str, v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(i),
            None if n.is_u64() => {
                errors.add(key, Problem::NumberTooLarge);
                None
            }
            None => {
                errors.add(key, Problem::NotANumber);
                None
            }
        },
        _ => {
            errors.add(key, Problem::WrongType { expected: INTEGER });
            None
        }
    }
}

/// Query-string paging: `?page=2&per_page=50`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Paging {
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// A required field that turned out absent is reported as `Required` by the domain, so an
/// absent string becomes empty here.
pub fn or_empty(v: Option<String>) -> String {
    v.unwrap_or_default()
}
