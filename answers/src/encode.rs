//! Answers written as JSON from pieces encoded once per item at build time (its id, title,
//! attributes and embedding as JSON text), so a request copies bytes instead of formatting
//! 6,400 floats: at 100 candidates × 64 dimensions serializing the whole answer with serde cost
//! ~350 µs, most of a request. The bytes are the same as [`crate::answer::Answer::to_json`]'s
//! (a test compares them).

use shop_personalizer::catalog::ItemAttributes;

/// Which piece of an item.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Id = 0,
    Title = 1,
    Attributes = 2,
    Embedding = 3,
    /// The about vector when it differs from the candidate vector (else empty).
    AboutEmbedding = 4,
}

/// Every item's pieces in one buffer.
#[derive(Debug, Default)]
pub struct EncodedItems {
    bytes: Vec<u8>,
    /// Per item, where each piece ends; a piece starts where the previous one ended.
    ends: Vec<[usize; 5]>,
}

fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Strings, finite floats and plain structs always serialize.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// What one item is, as the encoder reads it.
pub struct ItemView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub attributes: &'a ItemAttributes,
    pub embedding: &'a [f32],
    /// Sent as `aboutEmbedding` of the answer about the item (the embedding when the same).
    pub about_embedding: &'a [f32],
}

impl EncodedItems {
    /// Adds the next item (items are added in dense-id order).
    pub fn push(&mut self, item: ItemView<'_>) {
        let mut ends = [0; 5];
        json(&mut self.bytes, item.id);
        ends[Piece::Id as usize] = self.bytes.len();
        json(&mut self.bytes, item.title);
        ends[Piece::Title as usize] = self.bytes.len();
        json(&mut self.bytes, item.attributes);
        ends[Piece::Attributes as usize] = self.bytes.len();
        for (d, value) in item.embedding.iter().enumerate() {
            if d > 0 {
                self.bytes.push(b',');
            }
            json(&mut self.bytes, value);
        }
        ends[Piece::Embedding as usize] = self.bytes.len();
        if item.about_embedding != item.embedding {
            numbers(&mut self.bytes, item.about_embedding.iter().copied());
        }
        ends[Piece::AboutEmbedding as usize] = self.bytes.len();
        self.ends.push(ends);
    }

    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 40
    }

    fn piece(&self, item: u32, piece: Piece) -> &[u8] {
        let ends = &self.ends[item as usize];
        let start = match piece as usize {
            0 => self.ends.get((item as usize).wrapping_sub(1)).map_or(0, |e| e[4]),
            k => ends[k - 1],
        };
        &self.bytes[start..ends[piece as usize]]
    }

    fn list(&self, out: &mut Vec<u8>, name: &str, scored: &[(u32, f32)], piece: Piece) {
        out.extend_from_slice(name.as_bytes());
        out.push(b'[');
        for (r, &(c, _)) in scored.iter().enumerate() {
            if r > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.piece(c, piece));
        }
        out.push(b']');
    }

    /// The answer's JSON: `scored` candidates; titles and attributes when `catalogue`;
    /// embeddings when `embeddings`; `about` (with its embedding) for an item answer.
    pub fn write(&self, out: &mut Vec<u8>, answer: Columns<'_>) {
        out.clear();
        self.list(out, "{\"ids\":", answer.scored, Piece::Id);
        out.extend_from_slice(b",\"scores\":[");
        numbers(out, answer.scored.iter().map(|c| c.1));
        out.push(b']');
        if answer.catalogue {
            self.list(out, ",\"attributes\":", answer.scored, Piece::Attributes);
            self.list(out, ",\"titles\":", answer.scored, Piece::Title);
        }
        out.extend_from_slice(b",\"popularity\":[");
        numbers(out, answer.popularity.iter().copied());
        out.push(b']');
        if answer.embeddings {
            self.list(out, ",\"embeddings\":", answer.scored, Piece::Embedding);
        }
        if let Some(about) = answer.about {
            out.extend_from_slice(b",\"about\":");
            out.extend_from_slice(self.piece(about, Piece::Id));
            if answer.embeddings {
                out.extend_from_slice(b",\"aboutEmbedding\":[");
                let own = self.piece(about, Piece::AboutEmbedding);
                out.extend_from_slice(if own.is_empty() { self.piece(about, Piece::Embedding) } else { own });
                out.push(b']');
            }
        }
        if let Some(next) = answer.next {
            out.extend_from_slice(b",\"next\":[");
            numbers(out, next.iter().copied());
            out.push(b']');
        }
        out.push(b'}');
    }
}

fn numbers(out: &mut Vec<u8>, values: impl Iterator<Item = f32>) {
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json(out, &value);
    }
}

/// What one answer holds besides the items' pieces.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub scored: &'a [(u32, f32)],
    pub popularity: &'a [f32],
    /// The `next` column (item answers only).
    pub next: Option<&'a [f32]>,
    pub catalogue: bool,
    pub embeddings: bool,
    pub about: Option<u32>,
}
