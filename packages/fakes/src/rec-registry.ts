import { Hono } from "hono";
import { z } from "zod";
import type { TrustedIssuer } from "./bearer-auth.ts";
import { verifyBearer } from "./bearer-auth.ts";
import type { FakeEnv, FaultControls } from "./fault-controls.ts";
import { answerProblem, createFaultControls, serveFake } from "./fault-controls.ts";
import { describeIssues } from "./schema-errors.ts";

export type RegistryMember = {
  id: string;
  key: string;
  /** `null`: the member has no account (consumers skip it). */
  user_id: string | null;
  name: string;
  role: string;
  area: string;
  status: string;
};
export type RegistryCommunity = { key: string; name: string; members: RegistryMember[] };

export type RecRegistryOptions = {
  issuer: TrustedIssuer;
  audience?: string | string[];
  /** Scope required on the service token; none by default. */
  scope?: string;
  /** Page size when `limit` is absent. */
  defaultLimit?: number;
  port?: number;
};

export type RecRegistry = FaultControls & {
  url: string;
  app: Hono<FakeEnv>;
  close(): Promise<void>;
  /** Replaces the registry's content. */
  seed(communities: RegistryCommunity[]): void;
};

const MAX_LIMIT = 500;

const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).optional(),
  cursor: z.string().optional(),
});

export async function startRecRegistry(opts: RecRegistryOptions): Promise<RecRegistry> {
  let communities: RegistryCommunity[] = [];
  const defaultLimit = opts.defaultLimit ?? 50;
  const faults = createFaultControls();
  const app = new Hono<FakeEnv>();
  app.use(faults.middleware);

  app.use("/admin/*", async (c, next) => {
    const auth = await verifyBearer(c, opts.issuer, { audience: opts.audience });
    if (!auth.ok) return auth.res;
    if (auth.caller.kind !== "service") return answerProblem(403, "service token required");
    if (opts.scope && !auth.caller.scopes.includes(opts.scope))
      return answerProblem(403, `scope ${opts.scope} required`);
    await next();
  });

  app.get("/admin/communities", (c) => {
    const page = readPage(c.req.query(), defaultLimit, communities.length);
    if (!page.ok) return page.res;
    const items = communities
      .slice(page.offset, page.offset + page.limit)
      .map(({ key, name }) => ({ key, name }));
    return c.json({ items, next_cursor: nextCursor(page.offset, page.limit, communities.length) });
  });

  app.get("/admin/communities/:key/members", (c) => {
    const community = communities.find((candidate) => candidate.key === c.req.param("key"));
    if (!community) return answerProblem(404, `community ${c.req.param("key")} not found`);
    const members = community.members;
    const page = readPage(c.req.query(), defaultLimit, members.length);
    if (!page.ok) return page.res;
    const items = members.slice(page.offset, page.offset + page.limit);
    return c.json({ items, next_cursor: nextCursor(page.offset, page.limit, members.length) });
  });

  return {
    ...serveFake(app, faults, opts.port),
    seed(next) {
      communities = structuredClone(next);
    },
  };
}

/** Cursors are opaque to clients: base64url of the next offset. */
function readPage(
  query: Record<string, string>,
  defaultLimit: number,
  total: number,
): { ok: true; offset: number; limit: number } | { ok: false; res: Response } {
  const parsed = pageQuery.safeParse(query);
  if (!parsed.success) return { ok: false, res: answerProblem(422, describeIssues(parsed.error)) };
  const limit = parsed.data.limit ?? defaultLimit;
  if (parsed.data.cursor === undefined) return { ok: true, offset: 0, limit };
  const decoded = Buffer.from(parsed.data.cursor, "base64url").toString("utf8");
  const offset = decoded.startsWith("o:") ? Number(decoded.slice(2)) : Number.NaN;
  if (!Number.isInteger(offset) || offset < 0 || offset > total) {
    return { ok: false, res: answerProblem(400, "invalid cursor") };
  }
  return { ok: true, offset, limit };
}

function nextCursor(offset: number, limit: number, total: number): string | null {
  const next = offset + limit;
  return next < total ? Buffer.from(`o:${next}`, "utf8").toString("base64url") : null;
}
