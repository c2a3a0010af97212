//! The profile as stored: its envelope kind (`shop-personalizer/profile`, version 1), the
//! migration from version 0, loading with backups and writing within the budget. The profile's
//! stored format lives here, with the profile; `storage/` knows no domain type.

mod format;
mod migrate;
mod payload_text;
mod persist;

pub use format::{
    decode, encode, encode_with_lineage, profile_envelope_overhead, Decoded, ProfileFormat, CURRENT_VERSION,
    FORMAT_NAME,
};
pub use payload_text::payload_text;
pub(crate) use payload_text::{attribute_key, device_name, event_kind_name, item_attributes, visits, whole_members};
pub use persist::{load_or_back_up, write_compacted, LoadOutcome, WriteError, Written};
