// Every export of the package, as a storefront written with the strictest common settings uses it
// (js-tests/tsconfig.json: `strict`, `exactOptionalPropertyTypes`, `skipLibCheck: false`, lib
// ES2022 + DOM and no ESNext.Disposable). Only compiled (scripts/test, layer `types`). Each
// `@ts-expect-error` line is a mistake the types must reject: if one compiled, tsc fails on the
// unused directive.
import init, {
  initSync,
  Personalizer,
  type ActiveHour,
  type AdapterConfig,
  type AttributeKey,
  type AudienceSpec,
  type CandidateAnswer,
  type ConsentMode,
  type CopyVariant,
  type DecisionOutcome,
  type DeviceClass,
  type ErrorCode,
  type InitInput,
  type InitOutput,
  type Interest,
  type LayoutDecision,
  type LedgerSummary,
  type LiftBucket,
  type OfferDecision,
  type OfferSpec,
  type PersonalizerError,
  type PreferredHours,
  type ProfileSummary,
  type RankContext,
  type SectionSpec,
  type SecureAggregationSetup,
  type ShopperState,
  type SyncInitInput,
  type SyncOutcome,
  type SyncSetup,
  type TrackEvent,
  type VariantDecision,
  type VisitStats,
} from "../pkg/shop_personalizer.js";

export async function load(wasmUrl: InitInput, wasmBytes: SyncInitInput, sync: boolean): Promise<InitOutput> {
  if (sync) return initSync({ module: wasmBytes });
  return init({ module_or_path: wasmUrl });
}

// Inputs: optional fields take an explicit `undefined` (a form's empty value), as the runtime does.
export function inputs(brand: string | undefined, price: number | undefined): Personalizer {
  const p = new Personalizer({ shop: "acme", noise: { botHeuristic: false, minDwellMs: undefined }, weights: undefined });
  const mode: ConsentMode = "full";
  p.setConsent(mode, { explicitOptIn: undefined });
  const view: TrackEvent = { type: "view", itemId: "sku-1", item: { categoryPath: ["Shoes"], brand, price, tags: undefined } };
  p.track(view);
  p.track({ type: "addToCart", itemId: "sku-1", quantity: undefined, item: undefined });
  p.track({ type: "purchase", items: [{ itemId: "sku-1", quantity: 1, price }], value: 129 });
  p.upsertItems([{ id: "sku-2", brand, price }]);
  const answer: CandidateAnswer = { ids: ["sku-1", "sku-2"], scores: [2, 1], titles: undefined, attributes: undefined };
  const handle = p.registerCandidates(answer);
  const context: RankContext = { placement: "home", limit: undefined, rules: { pins: [{ id: "sku-2", position: 0 }], exclude: undefined } };
  const first: string | undefined = p.rank(handle, context).items[0]?.id;
  p.rank(handle);
  console.info(first, p.releaseCandidates(handle));
  const key: AttributeKey = { kind: "brand", value: "Summit" };
  p.removeInterest(key);
  return p;
}

// Results: fields that are always there are not optional.
export function results(p: Personalizer): number {
  const summary: ProfileSummary = p.profileSummary();
  const visits: VisitStats = summary.visits;
  const counted: number = visits.visits + visits.sessions + visits.orders + visits.firstSeenMs + visits.lastSeenMs + visits.revenue;
  const lastOrder: number | undefined = visits.lastOrderMs;
  const ledger: LedgerSummary | undefined = summary.privacyLedger; // absent until the on-demand module is loaded
  const shopper: ShopperState = p.shopperState();
  const interests: Interest[] = shopper.topInterests;
  const activity: number[] = shopper.hourOfWeekActivity;
  const device: DeviceClass = shopper.device;
  const hours: PreferredHours = p.preferredHours({ minEvents: undefined });
  const best: ActiveHour[] = hours.status === "ready" ? hours.hoursOfWeek : [];
  const bucket: LiftBucket | undefined = p.liftBucket();
  const consent: ConsentMode = p.consent;
  const exported: string = p.exportProfile();
  console.info(lastOrder, ledger?.lifetimeEpsilon, interests.length, activity.length, device, best, bucket, consent, exported.length);
  for (const warning of [...p.warnings(), ...p.takeWarnings()]) console.warn(warning.code, warning.kind, warning.backupKey);
  console.info(p.flush().storedBytes, p.hasUnsavedChanges(), p.forget());
  return counted;
}

export async function adaptation(p: Personalizer, config: AdapterConfig): Promise<string | undefined> {
  await p.configureAdaptation(config);
  await p.configureAdaptation();
  const sections: SectionSpec[] = [
    { id: "hero", kind: "recommendedForYou", required: true, minPosition: undefined },
    { id: "deals", kind: "deals" },
  ];
  const page: LayoutDecision = p.chooseLayout(sections, { maxSections: 2, defaultDensity: "grid", category: undefined });
  const audience: AudienceSpec[] = [{ kind: "loyal", minOrders: 3 }, { kind: "browsingCategory", category: "Shoes" }];
  const offers: OfferSpec[] = [{ id: "welcome", audience: [{ kind: "firstVisit" }] }, { id: "vip", audience, limits: undefined }];
  const offer: OfferDecision = p.chooseOffer(offers, { allowNone: true });
  const variants: CopyVariant[] = [{ id: "city", text: "Stays dry", tags: ["commute"] }];
  const copy: VariantDecision = p.chooseVariant({ id: "sku-1", tags: ["waterproof"] }, variants);
  const outcome: DecisionOutcome = { kind: "offer", offerId: offer.offerId ?? "none", takenUp: true };
  p.recordDecisionOutcome(outcome);
  console.info(page.sections.map((s) => s.kind), copy.matchedInterests, p.privacyLedger().currentPeriodEpsilon);
  return offer.offerId;
}

export async function sync(p: Personalizer): Promise<string> {
  const setup: SyncSetup = { aggregatorUrl: "https://agg.example", modelPublicKey: "00".repeat(32), maxJitterMs: undefined, autoSync: false };
  await p.configureSync(setup);
  const outcome: SyncOutcome = await p.syncNow();
  const secureAggregation: SecureAggregationSetup = {
    leaderUrl: "https://leader.example",
    helperUrl: "https://helper.example",
    taskId: "B".repeat(43),
    leaderHpkeConfig: "AQAgAAEAAQAg",
    helperHpkeConfig: "AgAgAAEAAQAg",
    timePrecisionSecs: undefined,
  };
  await p.configureSync({ ...setup, secureAggregation });
  const collusion: number | undefined = p.privacyLedger().epsilonPerUpdateIfAggregatorsCollude;
  console.info(collusion);
  return outcome.status === "skipped" ? outcome.reason : outcome.status;
}

export function errors(p: Personalizer): ErrorCode | undefined {
  try {
    p.rank(-1);
  } catch (e) {
    const code = (e as PersonalizerError).code;
    if (code === "unknownHandle") return code;
    // @ts-expect-error: not an error code (a typo of "unknownHandle")
    if (code === "unknwnHandle") return code;
  }
  p.free();
  return undefined;
}

// Mistakes the types reject.
export function typos(p: Personalizer, shopper: ShopperState): void {
  // @ts-expect-error: no event of type "veiw"
  p.track({ type: "veiw", itemId: "sku-1" });
  // @ts-expect-error: a view needs its itemId
  p.track({ type: "view" });
  // @ts-expect-error: "addToCard" is not an event type
  const event: TrackEvent = { type: "addToCard", itemId: "sku-1" };
  // @ts-expect-error: no audience of kind "firstVisitor"
  const audience: AudienceSpec = { kind: "firstVisitor" };
  // @ts-expect-error: a loyal audience says how many orders make a shopper loyal (minOrders)
  p.chooseOffer([{ id: "vip", audience: [{ kind: "loyal" }] }]);
  // @ts-expect-error: no section of kind "hero"
  p.chooseLayout([{ id: "hero", kind: "hero" }]);
  // @ts-expect-error: consent is "none", "session" or "full"
  p.setConsent("yes");
  // @ts-expect-error: no placement "homepage"
  p.rank(1, { placement: "homepage" });
  // @ts-expect-error: a misspelt setting (sensitiveCategory) is not a config field
  new Personalizer({ shop: "acme", sensitiveCategory: ["Health"] });
  // @ts-expect-error: a decision outcome of kind "offer" needs offerId and takenUp
  p.recordDecisionOutcome({ kind: "offer", sectionId: "hero", engaged: true });
  // @ts-expect-error: a brand key holds a string
  p.removeInterest({ kind: "brand", value: 3 });
  // @ts-expect-error: a shopper's segment is "new", "returning" or "loyal"
  const segment: ShopperState["segment"] = "vip";
  // @ts-expect-error: the raw wasm exports are not part of the package's types
  console.info(event, audience, segment, shopper, ({} as InitOutput).personalizer_new);
}
