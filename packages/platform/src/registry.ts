import { type Registry, type RegistryCommunity, type RegistryMember, UpstreamError } from "@celine/core";
import type { HttpAnswer, RetryingClientOptions } from "./http.ts";
import { DEFAULT_RETRIES, isObject, sendAsService, statusError, targetOf } from "./http.ts";

// The REC registry (PLATFORM §5): cursor-paged reads, every page, retried like the DT's.
// Pages are fetched lazily as the caller iterates, so a long member list is never all in memory.

/** `scope`: REC_REGISTRY_SCOPE; unset → the client's default scopes. */
export type RegistryClientOptions = RetryingClientOptions & { pageSize?: number };

const UPSTREAM = "rec-registry";

export function createRegistryClient(opts: RegistryClientOptions): Registry {
  const pageSize = opts.pageSize ?? 100;
  const target = targetOf(UPSTREAM, opts);
  const retries = opts.retries ?? DEFAULT_RETRIES;

  function page(path: string, cursor: string | undefined): Promise<HttpAnswer> {
    const query = { limit: String(pageSize), cursor };
    return sendAsService(
      target,
      { method: "GET", path, query, retries, backoffMs: opts.backoffMs },
      opts.tokens,
      opts.scope,
    );
  }

  async function* pages(path: string): AsyncGenerator<Record<string, unknown>> {
    let cursor: string | undefined;
    const seen = new Set<string>();
    for (;;) {
      const answer = await page(path, cursor);
      if (answer.status !== 200) throw statusError(UPSTREAM, answer);
      const body = isObject(answer.body) ? answer.body : undefined;
      if (!body || !Array.isArray(body.items)) {
        throw new UpstreamError(UPSTREAM, `${answer.describe} answer has no items array`, answer.status);
      }
      for (const item of body.items) {
        if (isObject(item)) yield item;
        else opts.log.warn("registry item that is not an object skipped", { call: answer.describe });
      }
      const next = body.next_cursor;
      if (typeof next !== "string" || next === "") return;
      // A registry that hands out a cursor twice would make us loop forever.
      if (seen.has(next)) throw new UpstreamError(UPSTREAM, `${answer.describe} repeated cursor ${next}`);
      seen.add(next);
      cursor = next;
    }
  }

  return {
    async *communities() {
      for await (const item of pages("/admin/communities")) {
        if (typeof item.key !== "string" || item.key === "") {
          opts.log.warn("registry community without key skipped", { item });
          continue;
        }
        const community: RegistryCommunity = { ...item, key: item.key };
        if (typeof item.name !== "string") delete community.name;
        yield community;
      }
    },

    async *members(community) {
      for await (const item of pages(`/admin/communities/${encodeURIComponent(community)}/members`)) {
        const id = idOf(item.id);
        const key = idOf(item.key);
        if (id === null || key === null) {
          opts.log.warn("registry member without id or key skipped", { community, item });
          continue;
        }
        // Members without an account come back with user_id null; the callers skip them.
        const member: RegistryMember = { ...item, id, key, user_id: idOf(item.user_id) };
        yield member;
      }
    },
  };
}

/** Ids may arrive as numbers; empty strings and anything else mean "none". */
function idOf(value: unknown): string | null {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string" && value.trim() !== "") return value;
  return null;
}
