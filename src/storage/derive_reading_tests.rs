use proptest::prelude::*;
use serde::de::Unexpected;

use super::SerdeWords;

/// serde's own words beside these, for one value.
fn agree(unexpected: Unexpected<'_>) {
    assert_eq!(SerdeWords(unexpected).to_string(), unexpected.to_string());
}

#[test]
fn words_every_kind_of_value_as_serde_does() {
    for unexpected in [
        Unexpected::Bool(true),
        Unexpected::Unsigned(7),
        Unexpected::Signed(-7),
        Unexpected::Float(1.5),
        Unexpected::Float(3.0),
        Unexpected::Float(-0.0),
        Unexpected::Float(1e21),
        Unexpected::Float(1e-7),
        Unexpected::Float(f64::NAN),
        Unexpected::Float(f64::NEG_INFINITY),
        Unexpected::Char('é'),
        Unexpected::Str("a \"b\"\n\u{1b}\u{200b}"),
        Unexpected::Bytes(b"x"),
        Unexpected::Unit,
        Unexpected::Option,
        Unexpected::NewtypeStruct,
        Unexpected::Seq,
        Unexpected::Map,
        Unexpected::Enum,
        Unexpected::UnitVariant,
        Unexpected::NewtypeVariant,
        Unexpected::TupleVariant,
        Unexpected::StructVariant,
        Unexpected::Other("undefined"),
    ] {
        agree(unexpected);
    }
}

proptest! {
    #[test]
    fn words_any_float_as_serde_does(bits in any::<u64>()) {
        agree(Unexpected::Float(f64::from_bits(bits)));
    }

    #[test]
    fn words_any_string_as_serde_does(text in ".{0,8}") {
        agree(Unexpected::Str(&text));
    }
}
