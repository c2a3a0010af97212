//! Every variant of every error enum and the code it carries: the table callers rely on when
//! they branch on `err.code` in JS. A changed line here is a breaking change for them.

use shop_personalizer::adapt::{AdaptError, BanditError, HoursError, LayoutError, OfferError, VariantError};
use shop_personalizer::catalog::CatalogError;
use shop_personalizer::collect::EventError;
use shop_personalizer::config::ConfigError;
use shop_personalizer::consent::ConsentError;
use shop_personalizer::error_code::{Coded, ErrorCode};
use shop_personalizer::measure::{CounterError, EstimateError, ReportError, ShareError};
use shop_personalizer::off_policy::OffPolicyError;
use shop_personalizer::personalizer::{AdaptationError, PersonalizerError, RankingError, SyncingError};
use shop_personalizer::privacy::PrivacyError;
use shop_personalizer::profile::stored::WriteError;
use shop_personalizer::profile::CompactionError;
use shop_personalizer::rank::RankError;
use shop_personalizer::storage::{LoadError, StoreError};
use shop_personalizer::sync::SyncError;

fn s() -> String {
    "x".to_owned()
}

fn row(error: impl Coded + std::fmt::Debug, expected: &str) -> (String, &'static str, String) {
    (format!("{error:?}"), error.code().as_str(), expected.to_owned())
}

#[rustfmt::skip]
fn table() -> Vec<(String, &'static str, String)> {
    let item = CatalogError::EmptyId;
    let bandit = || BanditError::NoArms;
    let transport = || SyncError::Transport { message: s() };
    let store = StoreError::QuotaExceeded;
    vec![
        row(CompactionError::CannotFit { needed: 1, budget: 0 }, "quotaExceeded"),

        row(OffPolicyError::Empty, "invalidArgument"),
        row(OffPolicyError::BadPropensity { index: 0, value: 2.0 }, "invalidArgument"),
        row(OffPolicyError::BadTarget { index: 0, value: 2.0 }, "invalidArgument"),
        row(OffPolicyError::BadReward { index: 0, value: f64::NAN }, "invalidArgument"),
        row(OffPolicyError::BadSlots { index: 0, value: 0.0 }, "invalidArgument"),

        row(SyncingError::Sync(transport()), "network"),
        row(SyncingError::Sync(SyncError::BadUrl { url: s() }), "invalidConfig"),
        row(SyncingError::NotConfigured, "notConfigured"),
        row(SyncingError::CheckInterval(1), "invalidConfig"),
        row(SyncingError::LiftReport(ReportError::BadHelperUrl(s())), "invalidConfig"),
        row(SyncingError::LiftDelta { lift: 1.0, privacy: 2.0 }, "invalidConfig"),

        row(PersonalizerError::Config(ConfigError::EmptyShop), "invalidConfig"),
        row(PersonalizerError::Event(EventError::EmptyQuery), "invalidEvent"),
        row(PersonalizerError::Event(EventError::Item(item.clone())), "invalidEvent"),
        row(PersonalizerError::Item { index: 0, source: item.clone() }, "invalidItem"),
        row(PersonalizerError::TooManyItems(1001), "invalidItem"),
        row(PersonalizerError::BadTime(-1.0), "badTime"),
        row(PersonalizerError::BadHour(168), "badTime"),
        row(PersonalizerError::Write(WriteError::QuotaStillExceeded { bytes: 1 }), "quotaExceeded"),
        row(PersonalizerError::Write(WriteError::Store(StoreError::Unavailable(s()))), "storageUnavailable"),
        row(PersonalizerError::Blocked, "unreadableState"),
        row(PersonalizerError::Store(store.clone()), "quotaExceeded"),

        row(RankingError::Rank(RankError::DuplicateId { id: s() }), "invalidAnswer"),
        row(RankingError::UnknownHandle { handle: 7 }, "unknownHandle"),
        row(RankingError::ColumnLength { column: "scores", expected: 2, got: 1 }, "invalidAnswer"),
        row(RankingError::EmbeddingColumns { len: 3, candidates: 2 }, "invalidAnswer"),
        row(RankingError::NeighbourOffsets { index: 0, value: 1, ids: 0 }, "invalidAnswer"),
        row(RankingError::Attributes { id: s(), source: item.clone() }, "invalidAnswer"),
        row(RankingError::BadTime(f64::NAN), "badTime"),

        row(AdaptationError::Config(AdaptError::BadHoldoutShare(2.0)), "invalidConfig"),
        row(AdaptationError::Layout(LayoutError::NoSections), "invalidArgument"),
        row(AdaptationError::Offer(OfferError::NoOffers), "invalidArgument"),
        row(AdaptationError::Variant(VariantError::NoVariants), "invalidArgument"),
        row(AdaptationError::Hours(HoursError::BadParameter { name: "n", value: 0.0, expected: "> 0" }), "invalidArgument"),
        row(AdaptationError::BadTime(-1.0), "badTime"),
        row(AdaptationError::BadCategory, "invalidArgument"),
        row(AdaptationError::UnknownSection(s()), "unknownDecision"),
        row(AdaptationError::UnknownOffer(s()), "unknownDecision"),
        row(AdaptationError::UnknownVariant { item: s(), variant: s() }, "unknownDecision"),
        row(AdaptationError::Bandit(BanditError::CorruptState(s())), "unreadableState"),

        row(EventError::Item(item.clone()), "invalidEvent"),
        row(EventError::EmptyList { field: "itemIds" }, "invalidEvent"),
        row(EventError::ListTooLong { field: "itemIds", len: 2, max: 1 }, "invalidEvent"),
        row(EventError::OutOfRange { field: "rating", rule: "from 1 to 5", value: 0.0 }, "invalidEvent"),
        row(EventError::EmptyQuery, "invalidEvent"),
        row(EventError::TooLong { field: "query", len: 2, max: 1 }, "invalidEvent"),
        row(EventError::PositionsMismatch { positions: 1, ids: 2 }, "invalidEvent"),
        row(EventError::DuplicateId { field: "itemIds", id: s() }, "invalidEvent"),

        row(CatalogError::EmptyId, "invalidItem"),
        row(CatalogError::TooLong { field: "brand", len: 2, max: 1 }, "invalidItem"),
        row(CatalogError::TooMany { field: "tags", len: 2, max: 1 }, "invalidItem"),
        row(CatalogError::EmptyLabel { field: "tags" }, "invalidItem"),
        row(CatalogError::BadPrice(-1.0), "invalidItem"),

        row(WriteError::Store(store.clone()), "quotaExceeded"),
        row(WriteError::CannotFit(CompactionError::CannotFit { needed: 1, budget: 0 }), "quotaExceeded"),
        row(WriteError::QuotaStillExceeded { bytes: 1 }, "quotaExceeded"),

        row(StoreError::QuotaExceeded, "quotaExceeded"),
        row(StoreError::Unavailable(s()), "storageUnavailable"),

        row(LoadError::Oversized { what: "profile", bytes: 2, limit: 1 }, "unreadableState"),
        row(LoadError::CorruptJson { what: "profile", reason: s() }, "unreadableState"),
        row(LoadError::NotAnEnvelope { what: "profile", reason: s() }, "unreadableState"),
        row(LoadError::UnknownFormat { expected: "p", found: s() }, "unreadableState"),
        row(LoadError::ChecksumMismatch { what: "profile", stored: 1, computed: 2 }, "unreadableState"),
        row(LoadError::FutureVersion { what: "profile", found: 9, supported: 1 }, "unreadableState"),
        row(LoadError::InvalidPayload { what: "profile", version: 1, reason: s() }, "unreadableState"),

        row(ConsentError::UnknownMode(s()), "invalidArgument"),

        row(RankError::Item(item.clone()), "invalidAnswer"),
        row(RankError::DuplicateId { id: s() }, "invalidAnswer"),
        row(RankError::TooManyCandidates { len: 2, max: 1 }, "invalidAnswer"),
        row(RankError::BadNumber { id: s(), field: "scores", value: f32::NAN }, "invalidAnswer"),
        row(RankError::EmbeddingLength { id: s(), expected: 2, got: 1 }, "invalidAnswer"),
        row(RankError::TooManyNeighbours { id: s(), len: 2, max: 1 }, "invalidAnswer"),
        row(RankError::BadParam { name: "diversity.strength", value: 2.0, rule: "between 0 and 1" }, "invalidArgument"),
        row(RankError::WeightsLength { expected: 2, got: 1 }, "invalidSyncData"),
        row(RankError::NonFiniteWeight { index: 0 }, "invalidSyncData"),
        row(RankError::ConflictingPins { position: 0 }, "invalidArgument"),
        row(RankError::DuplicatePin { id: s() }, "invalidArgument"),
        row(RankError::UnknownImpression(3), "unknownDecision"),
        row(RankError::NotShown { id: s(), impression: 3 }, "unknownDecision"),

        row(LayoutError::NoSections, "invalidArgument"),
        row(LayoutError::TooManySections(99), "invalidArgument"),
        row(LayoutError::EmptyId(0), "invalidArgument"),
        row(LayoutError::DuplicateId(s()), "invalidArgument"),
        row(LayoutError::NoSlots, "invalidArgument"),
        row(LayoutError::MinAfterMax { id: s(), min: 2, max: 1 }, "invalidArgument"),
        row(LayoutError::TooManyRequired { required: 2, slots: 1 }, "invalidArgument"),
        row(LayoutError::NothingFirst, "invalidArgument"),
        row(LayoutError::PositionBeyondPage { id: s(), min: 3, slots: 2 }, "invalidArgument"),
        row(LayoutError::Overbooked { ids: vec![s()], first: 0, last: 0, room: 0 }, "invalidArgument"),
        row(LayoutError::NotEnoughFillers { id: s(), min: 2 }, "invalidArgument"),

        row(BanditError::BadParameter { name: "sd", value: -1.0, expected: "> 0" }, "invalidConfig"),
        row(bandit(), "invalidArgument"),
        row(BanditError::BadReward(2.0), "invalidArgument"),
        row(BanditError::BadWeight(0.0), "invalidArgument"),
        row(BanditError::BadArmKey, "invalidArgument"),
        row(BanditError::CorruptState(s()), "unreadableState"),

        row(AdaptError::Bandit(bandit()), "invalidArgument"),
        row(AdaptError::BadHoldoutShare(2.0), "invalidConfig"),
        row(AdaptError::BadHideBelow(2.0), "invalidConfig"),
        row(AdaptError::FutureVersion { found: 9 }, "unreadableState"),
        row(AdaptError::BadStoredDraw(2.0), "unreadableState"),
        row(AdaptError::BadOfferHistory, "unreadableState"),
        row(AdaptError::BadLiftCounters, "unreadableState"),

        row(OfferError::NoOffers, "invalidArgument"),
        row(OfferError::TooManyOffers(99), "invalidArgument"),
        row(OfferError::BadId(0), "invalidArgument"),
        row(OfferError::DuplicateId(s()), "invalidArgument"),
        row(OfferError::UnknownAudience { offer: s(), kind: s() }, "invalidArgument"),
        row(OfferError::MissingAudienceField { offer: s(), kind: "loyal", field: "minOrders", example: "3" }, "invalidArgument"),
        row(OfferError::BadLimit { offer: s(), field: "cooldownHours", value: -1.0, expected: "≥ 0" }, "invalidArgument"),
        row(OfferError::BadNow(-1.0), "badTime"),
        row(OfferError::Bandit(bandit()), "invalidArgument"),

        row(HoursError::WrongLength(24), "internal"),
        row(HoursError::BadCount { index: 0, value: -1.0 }, "internal"),
        row(HoursError::BadParameter { name: "n", value: 0.0, expected: "> 0" }, "invalidArgument"),

        row(VariantError::NoVariants, "invalidArgument"),
        row(VariantError::TooManyVariants(99), "invalidArgument"),
        row(VariantError::BadId(0), "invalidArgument"),
        row(VariantError::DuplicateId(s()), "invalidArgument"),
        row(VariantError::BadTag { variant: s() }, "invalidArgument"),
        row(VariantError::TooManyTags { variant: s(), count: 99 }, "invalidArgument"),
        row(VariantError::Item(item.clone()), "invalidItem"),
        row(VariantError::Bandit(BanditError::CorruptState(s())), "unreadableState"),

        row(SyncError::Privacy(PrivacyError::NoConsent), "noConsent"),
        row(SyncError::Truncated { need: 2, got: 1 }, "invalidSyncData"),
        row(SyncError::BadMagic, "invalidSyncData"),
        row(SyncError::UnsupportedFormat { got: 9, supported: 1 }, "invalidSyncData"),
        row(SyncError::BadDimension { dimension: 0, max: 1 }, "invalidSyncData"),
        row(SyncError::LengthMismatch { declared: 2, got: 1 }, "invalidSyncData"),
        row(SyncError::BadField { field: "bucket", value: 9.0 }, "invalidSyncData"),
        row(SyncError::ChecksumMismatch, "invalidSyncData"),
        row(SyncError::BadSignature, "invalidSyncData"),
        row(SyncError::NonFiniteModelWeight { index: 0 }, "invalidSyncData"),
        row(SyncError::BadPublicKey, "invalidConfig"),
        row(SyncError::BadUrl { url: s() }, "invalidConfig"),
        row(SyncError::ModelDimension { got: 1, expected: 2 }, "invalidSyncData"),
        row(SyncError::StaleModel { got: 1, current: 2 }, "invalidSyncData"),
        row(SyncError::NoSharedModel, "notReady"),
        row(transport(), "network"),
        row(SyncError::Rejected { status: 400, error: s(), message: s() }, "rejectedByServer"),

        row(ConfigError::EmptyShop, "invalidConfig"),
        row(ConfigError::ShopTooLong(99), "invalidConfig"),
        row(ConfigError::ShopCharacters(s()), "invalidConfig"),
        row(ConfigError::OutOfRange { field: "f", rule: "≥ 0", value: -1.0 }, "invalidConfig"),
        row(ConfigError::StorageBudget(1), "invalidConfig"),
        row(ConfigError::TooManySensitiveCategories(999), "invalidConfig"),
        row(ConfigError::EmptySensitiveCategory, "invalidConfig"),
        row(ConfigError::WeightSign { field: "f", rule: "≥ 0", value: -1.0 }, "invalidConfig"),

        row(PrivacyError::InvalidParam { field: "f", rule: "> 0", value: 0.0 }, "invalidConfig"),
        row(PrivacyError::BudgetBelowOneUpdate { epsilon_per_update: 9.0, budget: 1.0, min_noise_multiplier: 2.0 }, "invalidConfig"),
        row(PrivacyError::NoConsent, "noConsent"),
        row(PrivacyError::NotEnoughImpressions { have: 1, need: 2 }, "notReady"),
        row(PrivacyError::PeriodLimitReached { updates: 1, next_period_starts: 9 }, "budgetSpent"),
        row(PrivacyError::BudgetExhausted { spent: 8.0, budget: 8.0, next_period_starts: 9 }, "budgetSpent"),
        row(PrivacyError::DimensionMismatch { local: 1, shared: 2 }, "invalidSyncData"),
        row(PrivacyError::NonFiniteWeight { index: 0 }, "internal"),
        row(PrivacyError::LiftReportSent { next_period_starts: 9 }, "budgetSpent"),
        row(PrivacyError::LiftReportOverBudget { lift_epsilon: 2.0, update_epsilon: 8.0, together: 10.0, budget: 8.0 }, "invalidConfig"),
        row(PrivacyError::ClockWentBack, "badTime"),
        row(PrivacyError::CorruptLedger, "unreadableState"),

        row(ShareError::WrongLength { got: 1, expected: 2 }, "invalidSyncData"),
        row(ShareError::TooManyReports { reports: 2, max: 1 }, "invalidConfig"),
        row(ShareError::ImpossibleSum { reports: 1, index: 0, value: 9.0, low: 0.0, high: 1.0 }, "invalidSyncData"),

        row(ReportError::BadParameter { name: "epsilon", value: 0.0, expected: "> 0" }, "invalidConfig"),
        row(ReportError::BadHelperUrl(s()), "invalidConfig"),
        row(ReportError::FixedPointRange { bound: 9.0, max: 1.0 }, "invalidConfig"),
        row(ReportError::BadPlacements("too many"), "invalidConfig"),

        row(CounterError::BadAmount(-1.0), "invalidArgument"),
        row(CounterError::BadPlacement, "invalidArgument"),
        row(CounterError::Corrupt("negative"), "unreadableState"),

        row(EstimateError::WrongDimension { got: 1, expected: 2 }, "invalidSyncData"),
        row(EstimateError::NotFinite, "invalidSyncData"),
        row(EstimateError::WrongVersion(9), "invalidSyncData"),
        row(EstimateError::NoiseMismatch { got: 1.0, expected: 2.0 }, "invalidSyncData"),
        row(EstimateError::BadConfidence(2.0), "invalidConfig"),
        row(EstimateError::SumsDimension { got: 1, expected: 2 }, "unreadableState"),
    ]
}

#[test]
fn every_error_variant_carries_its_code() {
    let wrong: Vec<String> = table()
        .into_iter()
        .filter(|(_, got, expected)| got != expected)
        .map(|(error, got, expected)| format!("{error}: {got}, expected {expected}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_table_only_uses_published_codes() {
    let published: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    for (error, _, expected) in table() {
        assert!(published.contains(&expected.as_str()), "{error}: {expected} is not a code");
    }
}
