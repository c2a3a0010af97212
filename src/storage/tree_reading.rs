//! Reading a stored payload from its JSON tree (`serde_json::Value`) by hand, for the payloads
//! that every page loads.
//!
//! serde's derived readers are generic over the deserializer: each struct brings a map visitor,
//! a sequence visitor and its error paths, compiled for every deserializer that reads it. For
//! the profile, about twenty structs deep, that was the largest single piece of the core module
//! (61 KB of code). The readers here are plain functions over the tree; a payload type that
//! uses them writes one line per field. They accept what the derive accepted: fields in any
//! order, unknown fields ignored, `null` only where a value is optional, whole numbers only
//! where the field is an integer; the errors name the path (`history.viewed[3].atMs`). The
//! helpers are never inlined: one call per field is what keeps a reader small.

use litemap::LiteMap;
use serde_json::{Map, Value};

/// Why a tree does not have the expected layout, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    message: String,
    /// Path segments, innermost first (built only on the way out of a failed read).
    path: Vec<String>,
}

impl TreeError {
    pub fn new(message: impl Into<String>) -> Self {
        TreeError { message: message.into(), path: Vec::new() }
    }

    #[inline(never)]
    fn expected(what: &str, found: &Value) -> Self {
        let found = match found {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        TreeError::new(format!("expected {what}, found {found}"))
    }

    #[inline(never)]
    fn within(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }
}

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            return f.write_str(&self.message);
        }
        let mut path = String::new();
        for segment in self.path.iter().rev() {
            if !segment.starts_with('[') && !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
        }
        write!(f, "{path}: {}", self.message)
    }
}

impl std::error::Error for TreeError {}

/// A reader of one value of the tree.
pub type Read<T> = fn(&Value) -> Result<T, TreeError>;

#[inline(never)]
pub fn object(value: &Value) -> Result<&Map<String, Value>, TreeError> {
    value.as_object().ok_or_else(|| TreeError::expected("an object", value))
}

/// Field `name` of `fields`, or `T::default()` when it is absent (`#[serde(default)]`).
#[inline(never)]
pub fn or_default<T: Default>(fields: &Map<String, Value>, name: &str, read: Read<T>) -> Result<T, TreeError> {
    match fields.get(name) {
        None => Ok(T::default()),
        Some(value) => read(value).map_err(|e| e.within(name.to_owned())),
    }
}

/// Field `name` of `fields`, which must be there.
#[inline(never)]
pub fn required<T>(fields: &Map<String, Value>, name: &str, read: Read<T>) -> Result<T, TreeError> {
    match fields.get(name) {
        None => Err(TreeError::new(format!("missing field `{name}`"))),
        Some(value) => read(value).map_err(|e| e.within(name.to_owned())),
    }
}

/// An optional field: absent or `null` is `None`.
#[inline(never)]
pub fn optional<T>(fields: &Map<String, Value>, name: &str, read: Read<T>) -> Result<Option<T>, TreeError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value).map(Some).map_err(|e| e.within(name.to_owned())),
    }
}

#[inline(never)]
pub fn whole_u64(value: &Value) -> Result<u64, TreeError> {
    value.as_u64().ok_or_else(|| TreeError::expected("a whole number ≥ 0", value))
}

#[inline(never)]
pub fn whole_u32(value: &Value) -> Result<u32, TreeError> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| TreeError::expected("a whole number ≥ 0 below 2³²", value))
}

#[inline(never)]
pub fn whole_u8(value: &Value) -> Result<u8, TreeError> {
    value
        .as_u64()
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| TreeError::expected("a whole number from 0 to 255", value))
}

#[inline(never)]
pub fn number(value: &Value) -> Result<f64, TreeError> {
    value.as_f64().ok_or_else(|| TreeError::expected("a number", value))
}

/// A number as serde reads an `f32` from the tree: the integer or float it holds, cast.
#[inline(never)]
pub fn single(value: &Value) -> Result<f32, TreeError> {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Ok(u as f32),
            (None, Some(i), _) => Ok(i as f32),
            (None, None, Some(f)) => Ok(f as f32),
            (None, None, None) => Err(TreeError::expected("a number", value)),
        },
        _ => Err(TreeError::expected("a number", value)),
    }
}

/// A whole number that fits this platform's `usize`.
#[inline(never)]
pub fn whole_usize(value: &Value) -> Result<usize, TreeError> {
    value
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| TreeError::expected("a whole number ≥ 0 that fits usize", value))
}

#[inline(never)]
pub fn text(value: &Value) -> Result<String, TreeError> {
    value.as_str().map(str::to_owned).ok_or_else(|| TreeError::expected("a string", value))
}

pub fn texts(value: &Value) -> Result<Vec<String>, TreeError> {
    list(value, text)
}

/// An array, each entry read by `read`.
#[inline(never)]
pub fn list<T>(value: &Value, read: Read<T>) -> Result<Vec<T>, TreeError> {
    let entries = value.as_array().ok_or_else(|| TreeError::expected("an array", value))?;
    let mut out = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        out.push(read(entry).map_err(|e| e.within(format!("[{index}]")))?);
    }
    Ok(out)
}

/// An object as a map by key, each value read by `read` (of equal keys the last wins).
#[inline(never)]
pub fn map<T>(value: &Value, read: Read<T>) -> Result<LiteMap<String, T>, TreeError> {
    let fields = object(value)?;
    let mut map = LiteMap::with_capacity(fields.len());
    for (key, entry) in fields {
        let entry = read(entry).map_err(|e| e.within(key.clone()))?;
        if let Some((key, entry)) = map.try_append(key.clone(), entry) {
            map.insert(key, entry);
        }
    }
    Ok(map)
}

/// A unit variant of an enum, by its name, as serde reads one from the tree: the name as a string,
/// or an object of one entry, the name, whose value is `null`.
#[inline(never)]
pub fn unit_variant<T: Copy>(value: &Value, variants: &[(&str, T)]) -> Result<T, TreeError> {
    let name = match value {
        Value::String(name) => name,
        Value::Object(fields) if fields.len() == 1 => match fields.iter().next() {
            Some((name, Value::Null)) => name,
            _ => return Err(TreeError::new("expected a variant name")),
        },
        other => return Err(TreeError::expected("a variant name", other)),
    };
    match variants.iter().find(|(known, _)| known == name) {
        Some(&(_, variant)) => Ok(variant),
        None => Err(TreeError::new(format!("unknown variant `{name}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_path() {
        let tree = json!({ "a": { "list": [1, 2, "three"] } });
        let read_a =
            |v: &Value| -> Result<Vec<u64>, TreeError> { required(object(v)?, "list", |l| list(l, whole_u64)) };
        let error = required(object(&tree).unwrap(), "a", read_a).unwrap_err();
        assert_eq!(error.to_string(), "a.list[2]: expected a whole number ≥ 0, found a string");
        let missing = required(object(&json!({})).unwrap(), "x", whole_u64).unwrap_err();
        assert_eq!(missing.to_string(), "missing field `x`");
    }

    #[test]
    fn scalars_are_read_as_serde_reads_them() {
        assert_eq!(whole_u64(&json!(3)), Ok(3));
        assert!(whole_u64(&json!(3.0)).is_err(), "serde refuses a float for an integer");
        assert!(whole_u64(&json!(-1)).is_err());
        assert!(whole_u32(&json!(1u64 << 32)).is_err());
        assert_eq!(number(&json!(2)), Ok(2.0));
        let fields = json!({ "a": null });
        assert_eq!(optional(object(&fields).unwrap(), "a", whole_u64), Ok(None));
        assert!(or_default(object(&fields).unwrap(), "a", whole_u64).is_err(), "null is not a number");
        assert_eq!(or_default(object(&fields).unwrap(), "b", whole_u64), Ok(0));
    }
}
