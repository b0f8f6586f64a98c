//! Wire types of the `/v1/rtregistry` namespace (the registry of JSON
//! values for dashboards).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Query of `registry_list` and `registry_watch`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RegistryPrefix {
    /// Only keys that start with this string (for example `dashboards/site-a/`).
    pub prefix: Option<String>,
}

/// The keys of the registry.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RegistryKeyList {
    pub keys: Vec<String>,
}

/// The path of `registry_get`/`put`/`delete`: the key, whose `/`s make
/// several path segments (dropshot's wildcard route).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RegistryKeyPath {
    pub key: Vec<String>,
}

impl RegistryKeyPath {
    /// The key as one string: segments joined with `/` (a `%2F` inside a
    /// segment was decoded already, so both spellings name the same key).
    pub fn key(&self) -> String {
        self.key.join("/")
    }
}

/// Query of `registry_put`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RegistryPutQuery {
    /// Seconds until the key expires.
    pub ttl: Option<i64>,
}

/// The `If-Match` header of `registry_put` and `registry_delete`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IfMatchHeader {
    #[serde(rename = "If-Match", default)]
    pub if_match: Option<String>,
}
