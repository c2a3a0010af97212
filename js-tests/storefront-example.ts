// A storefront integration written against the package's generated types. It is only compiled
// (`tsc --noEmit -p js-tests/tsconfig.json`): if a type in pkg/shop_personalizer.d.ts is wrong or
// missing, this stops compiling. The @ts-expect-error lines prove bad calls are type errors.
import init, {
  Personalizer,
  type AttributeKey,
  type ConsentDecision,
  type FlushReport,
  type InterestSummary,
  type CandidateAnswer,
  type ErrorCode,
  type Item,
  type PersonalizerConfig,
  type PersonalizerError,
  type RankContext,
  type RankedList,
  type RankedProduct,
  type ReasonCode,
  type ProfileSummary,
  type StorageWarning,
  type TrackEvent,
  type TrackOutcome,
  type WarningKind,
} from "../pkg/shop_personalizer.js";

interface Product {
  id: string;
  name: string;
  categoryPath: string[];
  brand: string;
  price: number;
  tags: string[];
}

export async function startPersonalization(products: Product[], shopperChoseFull: boolean): Promise<Personalizer> {
  await init();
  const config: PersonalizerConfig = {
    shop: "acme",
    sensitiveCategories: ["Health"],
    affinityHalfLifeDays: 21,
    noise: { botHeuristic: true, minDwellMs: 1500 },
    weights: { purchase: 10 },
  };
  const personalizer = new Personalizer(config);
  const decision: ConsentDecision = personalizer.setConsent(shopperChoseFull ? "full" : "session", {
    explicitOptIn: shopperChoseFull,
  });
  if (decision.cappedByGlobalPrivacyControl) console.info("Global Privacy Control: memory only");

  const items: Item[] = products.map(({ id, categoryPath, brand, price, tags }) => ({ id, categoryPath, brand, price, tags }));
  const kept: number = personalizer.upsertItems(items);
  console.info(`${kept} items known`);

  const warnings: StorageWarning[] = personalizer.takeWarnings();
  for (const warning of warnings) console.warn(warning.code, warning.message, warning.backupKey ?? "");
  return personalizer;
}

export function trackProductPage(personalizer: Personalizer, product: Product, msOnPage: number): TrackOutcome[] {
  const events: TrackEvent[] = [
    { type: "view", itemId: product.id },
    { type: "dwell", itemId: product.id, ms: msOnPage },
    { type: "scrollDepth", itemId: product.id, depth: 0.8 },
    { type: "impression", placement: "related", itemIds: ["a", "b"], positions: [0, 1] },
    { type: "purchase", items: [{ itemId: product.id, quantity: 1, price: product.price }], value: product.price },
    { type: "search", query: "trail shoes", resultIds: [product.id] },
    { type: "rating", itemId: product.id, rating: 5 },
  ];
  const outcomes = events.map((event) => personalizer.track(event));
  for (const outcome of outcomes) {
    if (outcome.status === "filtered") console.debug("filtered:", outcome.reason);
    if (outcome.status === "recorded" && outcome.newSession) console.debug("new session");
  }
  return outcomes;
}

export function renderPanel(personalizer: Personalizer): string[] {
  const summary: ProfileSummary = personalizer.profileSummary();
  const lines = summary.topInterests.map((interest: InterestSummary) => `${interest.label}: ${interest.weight.toFixed(2)}`);
  lines.push(`segment: ${summary.segment}`, `orders: ${summary.visits.orders ?? 0}`, `kept interests: ${summary.kept.interests}`);
  const first: AttributeKey | undefined = summary.topInterests[0]?.key;
  if (first && first.kind === "priceBand") {
    const band: number = first.value;
    lines.push(`price band ${band}`);
  }
  if (first) personalizer.removeInterest(first);
  const report: FlushReport = personalizer.flush();
  lines.push(`${report.storedBytes} bytes stored`, personalizer.exportProfile().slice(0, 20));
  if (personalizer.consent !== "none" && personalizer.hasUnsavedChanges()) personalizer.flush();
  personalizer.forget();
  personalizer.free();
  return lines;
}

/** The server's answer as the storefront holds it after `fetch(...).json()`. */
interface ServerAnswer {
  ids: string[];
  scores: number[];
  titles: string[];
  attributes: { categoryPath: string[]; brand: string; price: number }[];
  embeddingBuffer: ArrayBuffer;
  nbOffsets: number[];
  nbIds: string[];
  nbScores: number[];
}

export function renderRecommendations(personalizer: Personalizer, itemId: string, server: ServerAnswer): string[] {
  const answer: CandidateAnswer = {
    about: itemId,
    ids: server.ids,
    scores: Float32Array.from(server.scores),
    titles: server.titles,
    attributes: server.attributes,
    embeddings: new Float32Array(server.embeddingBuffer),
    neighbours: { offsets: Uint32Array.from(server.nbOffsets), ids: server.nbIds, scores: Float32Array.from(server.nbScores) },
  };
  const handle: number = personalizer.registerCandidates(answer);
  const context: RankContext = {
    placement: "product",
    currentItem: itemId,
    limit: 8,
    rules: { pins: [{ id: "sku-9", position: 0 }], exclude: ["sku-0"], boost: [], bury: [] },
    diversity: { strength: 0.3, maxPerCategory: 3 },
  };
  const ranked: RankedList = personalizer.rank(handle, context);
  const lines = ranked.items.map(({ id, score, reasons, reason, title, fromSession }: RankedProduct) => {
    const codes: ReasonCode[] = reasons;
    return `${title ?? id} ${score.toFixed(3)} ${reason} [${codes.join(",")}]${fromSession ? " (earlier page)" : ""}`;
  });
  lines.push(`impression ${ranked.impression}, propensity ${ranked.propensity.toFixed(3)}, explored ${ranked.explored}`);
  const released: boolean = personalizer.releaseCandidates(handle);
  if (!released) lines.push("already evicted");
  return lines;
}

/** Narrows a caught value to the package's error, whose `code` is a closed union. */
function isPersonalizerError(error: unknown): error is PersonalizerError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string";
}

/** Ranks, reacting to each failure by its code, never by its message. */
export function rankOrFallBack(
  personalizer: Personalizer,
  handle: number,
  answer: CandidateAnswer,
  config: PersonalizerConfig,
): { ranked: RankedList | null; personalizer: Personalizer; handle: number } {
  try {
    return { ranked: personalizer.rank(handle), personalizer, handle };
  } catch (error) {
    if (!isPersonalizerError(error)) throw error;
    const code: ErrorCode = error.code;
    switch (code) {
      case "unknownHandle": {
        const fresh = personalizer.registerCandidates(answer);
        return { ranked: personalizer.rank(fresh), personalizer, handle: fresh };
      }
      case "internal": {
        const replacement = new Personalizer(config);
        return { ranked: null, personalizer: replacement, handle };
      }
      case "invalidArgument":
      case "busy":
        return { ranked: null, personalizer, handle };
      default:
        throw error;
    }
  }
}

/** Storage problems and network problems go to different logs. */
export function logWarnings(personalizer: Personalizer, log: (where: WarningKind, text: string) => void): void {
  for (const { kind, code, message } of personalizer.takeWarnings()) log(kind, `${code}: ${message}`);
}

export function typeErrors(personalizer: Personalizer): void {
  // @ts-expect-error: a handle is a number
  personalizer.rank("handle-1");
  // @ts-expect-error: ids are strings
  personalizer.registerCandidates({ ids: [1, 2] });
  // @ts-expect-error: "sometimes" is not a consent mode
  personalizer.setConsent("sometimes");
  // @ts-expect-error: a view needs an itemId
  personalizer.track({ type: "view" });
  // @ts-expect-error: unknown event type
  personalizer.track({ type: "teleport", itemId: "a" });
  // @ts-expect-error: price is a number
  personalizer.upsertItems([{ id: "a", price: "cheap" }]);
  // @ts-expect-error: interest keys are tagged objects
  personalizer.removeInterest("Shoes");
  // @ts-expect-error: codes are a closed union, so a typo does not compile
  const typo: ErrorCode = "unknownHandel";
  // @ts-expect-error: warning kinds are "storage" or "network"
  const kind: WarningKind = "disk";
  void typo;
  void kind;
}
