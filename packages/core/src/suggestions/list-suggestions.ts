import { and, eq, inArray, sql } from "drizzle-orm";
import { authorize, ownScope, refuse } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments, offers } from "../db/schema.ts";
import { messageOf } from "../lib/message-of.ts";
import type { DtAuth, RawRow } from "../platform/ports.ts";
import type { SuggestionItem, SuggestionTarget } from "../schemas/suggestions.ts";
import { targetsFor } from "../settlement/window-targets.ts";
import { buildSuggestions } from "./build-suggestions.ts";
import { parseCommunityWindow } from "./dt-rows.ts";
import { offerRowOf } from "./offer-row.ts";

/** Counter of requests answered from less than the full picture, by what failed. */
export const SUGGESTIONS_DEGRADED = "flexibility_suggestions_degraded_total";
/** Counter of DT rows that could not be read, by source (community | device). */
export const SUGGESTIONS_SKIPPED_ROWS = "flexibility_suggestions_skipped_rows_total";

/**
 * The windows open to the calling member (PLATFORM §1/§3), each with their target from the readings
 * we hold (never a DT call of its own), and a record of what was offered so an accept can be checked
 * against it. The Digital Twin is asked with the caller's own JWT. Never a
 * 5xx because of the DT: no membership or a failed membership/windows call is `[]` (with a warning
 * and a metric); a failed per-device call only loses the personal figures.
 */
export async function listSuggestions({ ctx }: { ctx: Ctx; input?: unknown }): Promise<SuggestionItem[]> {
  await authorize(ctx, "read", { type: "suggestion", ownerId: ownScope(ctx.actor) });
  if (ctx.actor.kind !== "participant" || !ctx.credentials) {
    throw refuse(ctx, "read", "suggestions are personal: call with the participant's own token");
  }
  const sub = ctx.actor.id;
  const auth: DtAuth = { kind: "user", token: ctx.credentials };
  const { dt } = ctx.platform;
  const degraded = (stage: string, error: unknown) => {
    ctx.metrics.inc(SUGGESTIONS_DEGRADED, { stage });
    ctx.log.warn("suggestions: digital twin call failed", { stage, error: messageOf(error) });
  };

  const [membership, device] = await Promise.allSettled([dt.membership(auth, sub), dt.deviceOf(auth, sub)]);
  if (membership.status === "rejected") {
    degraded("membership", membership.reason);
    return [];
  }
  if (!membership.value) return [];
  const community = membership.value.community.key;
  let deviceId: string | null = null;
  if (device.status === "rejected") degraded("device", device.reason);
  else deviceId = device.value;

  const [windows, personal] = await Promise.allSettled([
    dt.communityWindows(auth, community),
    deviceId ? dt.deviceWindows(auth, sub, deviceId) : Promise.resolve<RawRow[]>([]),
  ]);
  if (windows.status === "rejected") {
    degraded("windows", windows.reason);
    return [];
  }
  let deviceRows: RawRow[] = [];
  if (personal.status === "rejected") degraded("device_windows", personal.reason);
  else deviceRows = personal.value;

  const now = ctx.now();
  const items = await withTransaction(ctx, async (tx) => {
    const ids = windows.value.flatMap((row) => {
      const parsed = parseCommunityWindow(row);
      return parsed.ok ? [parsed.value.id] : [];
    });
    const held =
      ids.length === 0
        ? []
        : await tx.db
            .select({ id: commitments.suggestionId })
            .from(commitments)
            .where(
              and(
                eq(commitments.userId, sub),
                eq(commitments.status, "committed"),
                inArray(commitments.suggestionId, ids),
              ),
            );
    const built = buildSuggestions({
      communityRows: windows.value,
      deviceRows,
      committed: new Set(held.map((h) => h.id)),
      now,
      timeZone: ctx.config.communityTimezone,
    });
    for (const skip of built.skipped) {
      ctx.metrics.inc(SUGGESTIONS_SKIPPED_ROWS, { source: skip.source });
      ctx.log.warn("suggestions: skipped a malformed digital twin row", {
        source: skip.source,
        reason: skip.reason,
        row: JSON.stringify(skip.row).slice(0, 500),
      });
    }
    if (built.items.length > 0) {
      await tx.db
        .insert(offers)
        .values(
          built.items.map((item) => offerRowOf(item, { userId: sub, communityId: community, deviceId, now })),
        )
        .onConflictDoUpdate({
          target: [offers.userId, offers.windowId],
          set: {
            communityId: sql`excluded.community_id`,
            deviceId: sql`excluded.device_id`,
            periodStart: sql`excluded.period_start`,
            periodEnd: sql`excluded.period_end`,
            rewardPoints: sql`excluded.reward_points`,
            impactKwh: sql`excluded.impact_kwh`,
            communityKwh: sql`excluded.community_kwh`,
            offeredAt: sql`excluded.offered_at`,
            // first_offered_at is left alone: it is when the member was first shown the window.
          },
        });
    }
    return built.items;
  });
  // After the transaction, on the pool: the targets' reads and maths never hold its connection.
  const targets = deviceId
    ? await targetsFor(ctx, {
        userId: sub,
        deviceId,
        windows: items.map((item) => ({
          id: item.id,
          start: new Date(item.period_start),
          end: new Date(item.period_end),
        })),
      })
    : new Map<string, SuggestionTarget>();
  return items.map((item) => ({ ...item, target: targets.get(item.id) ?? null }));
}
