//! Wire shapes: the JSON we send (typed structs, so it can be snapshot-tested and parsed back)
//! and tolerant readers for the JSON others send (strings or objects, one or many). Our own
//! vocabulary is declared in inline `@context` objects; the only remote contexts named are
//! the ActivityStreams and security ones every implementation knows.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
pub const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// `@context` of actor documents: AS2, security (publicKey) and the Mastodon extensions.
pub fn actor_context() -> Value {
    json!([
        AS_CONTEXT,
        SECURITY_CONTEXT,
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value"
        }
    ])
}

/// `@context` of product notes: AS2 plus the declared machine-layer terms (FEP-0837 /
/// Valueflows, a few schema.org terms, the FEP-044f quote policy).
pub fn note_context() -> Value {
    json!([
        AS_CONTEXT,
        {
            "Hashtag": "as:Hashtag",
            "sensitive": "as:sensitive",
            "vf": "https://w3id.org/valueflows/ont/vf#",
            "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
            "schema": "http://schema.org/",
            "purpose": "vf:purpose",
            "publishes": {"@id": "vf:publishes", "@type": "@id"},
            "reciprocal": {"@id": "vf:reciprocal", "@type": "@id"},
            "Intent": "vf:Intent",
            "action": "vf:action",
            "resourceQuantity": {"@id": "vf:resourceQuantity", "@type": "@id"},
            "availableQuantity": {"@id": "vf:availableQuantity", "@type": "@id"},
            "hasUnit": "om2:hasUnit",
            "hasNumericalValue": "om2:hasNumericalValue",
            "productName": "schema:name",
            "productDescription": "schema:description",
            "price": "schema:price",
            "priceCurrency": "schema:priceCurrency",
            "sku": "schema:sku",
            "availability": {"@id": "schema:availability", "@type": "@id"},
            "gts": "https://gotosocial.org/ns#",
            "interactionPolicy": {"@id": "gts:interactionPolicy", "@type": "@id"},
            "canQuote": {"@id": "gts:canQuote", "@type": "@id"},
            "automaticApproval": {"@id": "gts:automaticApproval", "@type": "@id"}
        }
    ])
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    pub id: String,
    pub owner: String,
    pub public_key_pem: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    pub shared_inbox: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    /// Alt text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub height: Option<i64>,
}

/// A profile field (`PropertyValue`): `value` is HTML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropertyValue {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub value: String,
}

/// An actor document: shops (`Organization`), members (`Person`), the instance (`Application`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(rename = "@context")]
    pub context: Value,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub preferred_username: String,
    pub name: String,
    pub summary: String,
    pub url: String,
    pub inbox: String,
    pub outbox: String,
    pub followers: String,
    pub following: String,
    pub endpoints: Endpoints,
    pub public_key: PublicKey,
    pub manually_approves_followers: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub published: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub icon: Option<ImageObject>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub image: Option<ImageObject>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub attachment: Vec<PropertyValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hashtag {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub href: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quantity {
    pub has_unit: String,
    pub has_numerical_value: String,
}

/// A FEP-0837 intent: what is offered (`publishes`) or asked in return (`reciprocal`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub action: String,
    pub resource_quantity: Quantity,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub available_quantity: Option<Quantity>,
}

/// Who may quote a note without asking a person (FEP-044f).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotePolicy {
    pub automatic_approval: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionPolicy {
    pub can_quote: QuotePolicy,
}

/// A reference to a collection with its size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionRef {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub total_items: i64,
}

/// A product as a `Note`: a human layer every fediverse reader shows (content, attachment,
/// tag, url) and a machine layer for shops (price, currency, availability, sku, FEP-0837
/// intents).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductNote {
    #[serde(rename = "@context", skip_serializing_if = "Option::is_none", default)]
    pub context: Option<Value>,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub attributed_to: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub published: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub updated: Option<String>,
    pub url: String,
    pub content: String,
    pub sensitive: bool,
    pub attachment: Vec<ImageObject>,
    pub tag: Vec<Hashtag>,
    pub replies: CollectionRef,
    /// Anyone may quote a product; quote requests are answered by `quotes`.
    pub interaction_policy: InteractionPolicy,
    pub purpose: String,
    pub publishes: Intent,
    pub reciprocal: Intent,
    pub product_name: String,
    /// Plain-text excerpt of the description (the `content` also carries title, price, links).
    pub product_description: String,
    pub price: String,
    pub price_currency: String,
    pub availability: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sku: Option<String>,
}

/// The id in a reference that is either a string or an object with `id`.
pub fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// A property that may be one value or an array, as a list.
pub fn many(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

/// The first `type` (Misskey reads only the first; so do we).
pub fn type_of(v: &Value) -> Option<&str> {
    match v.get("type")? {
        Value::String(s) => Some(s),
        Value::Array(a) => a.first()?.as_str(),
        _ => None,
    }
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Every id addressed in `to` and `cc`.
pub fn audience(v: &Value) -> Vec<String> {
    let mut out = vec![];
    for key in ["to", "cc"] {
        for a in many(v.get(key)) {
            if let Some(id) = id_of(a) {
                out.push(id.to_string());
            }
        }
    }
    out
}

/// Whether the ActivityStreams context is present (Mastodon drops documents without it).
pub fn has_as_context(v: &Value) -> bool {
    many(v.get("@context"))
        .iter()
        .any(|c| c.as_str() == Some(AS_CONTEXT))
}
