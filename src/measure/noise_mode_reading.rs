//! Reading a [`NoiseMode`] (`{ "kind": "sharedSums", "minCohort": 1000, "helperUrl": ... }`) in
//! one pass, as serde's derive of an internally tagged enum reads it but without buffering the
//! object in serde's `Content`. Unknown fields and other kinds' fields are skipped, as by the derive.

use serde::de::{Deserializer, Error, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::report::NoiseMode;

/// The `kind` of a [`NoiseMode`] (its unknown-variant error lists these).
#[derive(Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Kind {
    Local,
    Distributed,
    SharedSums,
    SecureAggregation,
}

struct NoiseModeVisitor;

impl<'de> Visitor<'de> for NoiseModeVisitor {
    type Value = NoiseMode;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a noise mode with a `kind`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoiseMode, A::Error> {
        let mut kind: Option<Kind> = None;
        let (mut min_cohort, mut helper_url): (Option<u32>, Option<String>) = (None, None);
        let mut task: Option<crate::sync::SecureAggregationSetup> = None;
        while let Some(key) = map.next_key::<String>()? {
            let has = |field| match kind {
                None => true,
                Some(Kind::Local) => false,
                Some(Kind::Distributed) => field == "minCohort",
                Some(Kind::SharedSums) => field != "task",
                Some(Kind::SecureAggregation) => field != "helperUrl",
            };
            match key.as_str() {
                "kind" if kind.is_some() => return Err(Error::duplicate_field("kind")),
                "kind" => kind = Some(map.next_value()?),
                "minCohort" if has("minCohort") => min_cohort = Some(map.next_value()?),
                "helperUrl" if has("helperUrl") => helper_url = Some(map.next_value()?),
                "task" if has("task") => task = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let min_cohort = || min_cohort.ok_or_else(|| Error::missing_field("minCohort"));
        Ok(match kind.ok_or_else(|| Error::missing_field("kind"))? {
            Kind::Local => NoiseMode::Local,
            Kind::Distributed => NoiseMode::Distributed { min_cohort: min_cohort()? },
            Kind::SharedSums => NoiseMode::SharedSums {
                min_cohort: min_cohort()?,
                helper_url: helper_url.clone().ok_or_else(|| Error::missing_field("helperUrl"))?,
            },
            Kind::SecureAggregation => NoiseMode::SecureAggregation {
                min_cohort: min_cohort()?,
                task: task.clone().ok_or_else(|| Error::missing_field("task"))?,
            },
        })
    }
}

impl<'de> Deserialize<'de> for NoiseMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(NoiseModeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::NoiseMode;

    #[test]
    fn reads_as_the_tagged_derive_did() {
        #[derive(Debug, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
        enum Derived {
            Local,
            Distributed { min_cohort: u32 },
            SharedSums { min_cohort: u32, helper_url: String },
            SecureAggregation { min_cohort: u32, task: serde_json::Value },
        }
        let cases = [
            r#"{"kind":"local"}"#,
            r#"{"kind":"local","minCohort":"ignored"}"#,
            r#"{"minCohort":5,"kind":"distributed","helperUrl":7}"#,
            r#"{"kind":"distributed","minCohort":5,"helperUrl":7}"#,
            r#"{"kind":"sharedSums","minCohort":1000,"helperUrl":"https://helper.example"}"#,
            r#"{"kind":"sharedSums","minCohort":1000}"#,
            r#"{"kind":"distributed"}"#,
            r#"{"kind":"distributed","minCohort":-1}"#,
            r#"{"kind":"distributed","minCohort":null}"#,
            r#"{"kind":"shuffled"}"#,
            r#"{"minCohort":5}"#,
            r#"{"kind":"local","kind":"local"}"#,
        ];
        let message = |e: serde_json::Error| e.to_string().split(" at line ").next().unwrap_or_default().to_string();
        for json in cases {
            let by_hand = serde_json::from_str::<NoiseMode>(json).map(|m| serde_json::to_value(m).unwrap());
            let derived = serde_json::from_str::<Derived>(json).map(|m| serde_json::to_value(m).unwrap());
            assert_eq!(by_hand.map_err(message), derived.map_err(message), "{json}");
        }
    }

    #[test]
    fn reads_a_secure_aggregation_mode_with_its_task() {
        let json = r#"{"kind":"secureAggregation","minCohort":1000,"helperUrl":"ignored","task":{"leaderUrl":"https://l.example","helperUrl":"https://h.example","taskId":"t","leaderHpkeConfig":"a","helperHpkeConfig":"b"}}"#;
        let NoiseMode::SecureAggregation { min_cohort, task } = serde_json::from_str::<NoiseMode>(json).unwrap() else {
            panic!("not secureAggregation")
        };
        assert_eq!(
            (min_cohort, task.leader_url.as_str(), task.helper_url.as_str()),
            (1000, "https://l.example", "https://h.example")
        );
        let missing = serde_json::from_str::<NoiseMode>(r#"{"kind":"secureAggregation","minCohort":5}"#).unwrap_err();
        assert!(missing.to_string().contains("missing field `task`"), "{missing}");
    }
}
