//! The answers as static files for a CDN or object store: `DIR/items/<file>.json`, one per item
//! (the same bytes `GET /v1/answers/item/{id}` serves), and `DIR/manifest.json`:
//! `{"format":"shop-personalizer-answers","formatVersion":1,"version":"<index version>",
//! "count":N,"items":{"<id>":"items/<file>.json",...}}`.
//!
//! A file is named after its id when the id is made of `A-Z a-z 0-9 . _ -` (and does not start
//! with a dot), else `x-` and the id's UTF-8 bytes in hex, so every name is safe in any URL and
//! file system. The manifest is written last, so a reader that finds it finds every file.

use std::path::Path;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::index::AnswerIndex;

#[derive(Debug, Error)]
#[error("export_failed: cannot write {path}: {reason}")]
pub struct ExportError {
    pub path: String,
    pub reason: String,
}

/// The file name of item `id`'s answer (without the directory).
pub fn file_name(id: &str) -> String {
    let plain = !id.starts_with('.') && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if plain && !id.starts_with("x-") {
        format!("{id}.json")
    } else {
        let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
        format!("x-{hex}.json")
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    std::fs::write(path, bytes).map_err(|e| ExportError { path: path.display().to_string(), reason: e.to_string() })
}

/// Writes every answer and the manifest under `dir`; returns the number of files and bytes.
pub fn export(index: &AnswerIndex, dir: &Path) -> Result<(usize, u64), ExportError> {
    let items = dir.join("items");
    std::fs::create_dir_all(&items)
        .map_err(|e| ExportError { path: items.display().to_string(), reason: e.to_string() })?;
    let mut listed = Map::new();
    let mut bytes = 0u64;
    for id in index.item_ids() {
        let mut json = Vec::new();
        if !index.item_answer_json(id, &mut json) {
            continue;
        }
        let name = file_name(id);
        bytes += json.len() as u64;
        write(&items.join(&name), &json)?;
        listed.insert(id.to_owned(), Value::String(format!("items/{name}")));
    }
    let count = listed.len();
    let manifest = serde_json::json!({
        "format": "shop-personalizer-answers",
        "formatVersion": 1,
        "version": index.version(),
        "count": count,
        "items": listed,
    });
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    // Written beside, then renamed: the manifest appears whole or not at all.
    let partial = dir.join("manifest.json.partial");
    write(&partial, &text)?;
    let final_path = dir.join("manifest.json");
    std::fs::rename(&partial, &final_path)
        .map_err(|e| ExportError { path: final_path.display().to_string(), reason: e.to_string() })?;
    Ok((count, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_distinct() {
        assert_eq!(file_name("sku-1"), "sku-1.json");
        assert_eq!(file_name("a/b"), "x-612f62.json");
        assert_eq!(file_name(".."), "x-2e2e.json");
        assert_ne!(file_name("x-61"), file_name("a"));
        assert_eq!(file_name("é"), "x-c3a9.json");
    }
}
