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

/// Why a `secureAggregation` noise mode with one `task` (both buckets in one measurement) is
/// refused: lift reports now go to one DAP task per bucket.
pub const SINGLE_LIFT_TASK_RETIRED: &str = "liftReport.noise.task (one lift task for both buckets) is replaced by \
tasks: { personalized, holdout }, one DAP task per bucket (the old task's aggregators decode another measurement): \
regenerate the lift tasks with `aggregator dap-task-pair --lift-min-cohort K` and pass its device.json as liftReport";

struct NoiseModeVisitor;

impl<'de> Visitor<'de> for NoiseModeVisitor {
    type Value = NoiseMode;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a noise mode with a `kind`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoiseMode, A::Error> {
        let mut kind: Option<Kind> = None;
        let (mut min_cohort, mut helper_url): (Option<u32>, Option<String>) = (None, None);
        let mut tasks: Option<crate::sync::LiftTasks> = None;
        let mut single_task = false;
        while let Some(key) = map.next_key::<String>()? {
            let has = |field| match kind {
                None => true,
                Some(Kind::Local) => false,
                Some(Kind::Distributed) => field == "minCohort",
                Some(Kind::SharedSums) => field != "tasks",
                Some(Kind::SecureAggregation) => field != "helperUrl",
            };
            match key.as_str() {
                "kind" if kind.is_some() => return Err(Error::duplicate_field("kind")),
                "kind" => kind = Some(map.next_value()?),
                "minCohort" if has("minCohort") => min_cohort = Some(map.next_value()?),
                "helperUrl" if has("helperUrl") => helper_url = Some(map.next_value()?),
                "tasks" if has("tasks") => tasks = Some(map.next_value()?),
                "task" if kind != Some(Kind::SharedSums) => {
                    single_task = true;
                    map.next_value::<IgnoredAny>()?;
                }
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
                tasks: match (tasks, single_task) {
                    (Some(tasks), _) => Box::new(tasks),
                    (None, true) => return Err(Error::custom(SINGLE_LIFT_TASK_RETIRED)),
                    (None, false) => return Err(Error::missing_field("tasks")),
                },
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
            SecureAggregation { min_cohort: u32, tasks: serde_json::Value },
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
    fn reads_a_secure_aggregation_mode_with_its_two_bucket_tasks() {
        let task = |id: &str| {
            format!(
                r#"{{"leaderUrl":"https://l.example","helperUrl":"https://h.example","taskId":"{id}","leaderHpkeConfig":"a","helperHpkeConfig":"b"}}"#
            )
        };
        let json = format!(
            r#"{{"kind":"secureAggregation","minCohort":1000,"helperUrl":"ignored","tasks":{{"personalized":{},"holdout":{}}}}}"#,
            task("p"),
            task("h")
        );
        let NoiseMode::SecureAggregation { min_cohort, tasks } = serde_json::from_str::<NoiseMode>(&json).unwrap()
        else {
            panic!("not secureAggregation")
        };
        assert_eq!((min_cohort, tasks.personalized.task_id.as_str(), tasks.holdout.task_id.as_str()), (1000, "p", "h"));
        assert_eq!(tasks.personalized.leader_url, "https://l.example");
        let missing = serde_json::from_str::<NoiseMode>(r#"{"kind":"secureAggregation","minCohort":5}"#).unwrap_err();
        assert!(missing.to_string().contains("missing field `tasks`"), "{missing}");
    }

    #[test]
    fn a_single_lift_task_for_both_buckets_is_refused_with_what_to_do() {
        let json = r#"{"kind":"secureAggregation","minCohort":1000,"task":{"leaderUrl":"https://l.example"}}"#;
        let error = serde_json::from_str::<NoiseMode>(json).unwrap_err().to_string();
        assert!(error.starts_with(super::SINGLE_LIFT_TASK_RETIRED), "{error}");
        assert!(error.contains("tasks: { personalized, holdout }"), "{error}");
    }
}
