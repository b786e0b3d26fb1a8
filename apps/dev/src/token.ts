// `bun run dev:token <member|service> [--sub …] [--scope …] [--ttl seconds] [--raw]`: a token
// signed by the running dev stack's issuer, with a ready-to-paste curl line.

import { parseArgs } from "node:util";
import { messageOf } from "@celine/core";

const USAGE = `usage: bun run dev:token <member|service> [--sub <sub|client id>] [--scope "<scopes>"] [--ttl <seconds>] [--raw]

  member    a participant token (default sub member-01; members are member-01 … member-12)
  service   a service-account token (default client svc-admin, scope flexibility.admin)

  --scope   space-separated scopes, e.g. "flexibility.commitments.export"
  --ttl     lifetime in seconds (default 43200 = 12 h)
  --raw     print the token only, e.g. TOKEN=$(bun run --silent dev:token member --raw)
  --url     the dev stack (default http://127.0.0.1:$PORT, PORT defaulting to 8017)`;

export type TokenArgs = {
  kind: "member" | "service";
  sub?: string;
  scope?: string;
  ttl?: number;
  raw: boolean;
  url: string;
};

export function parseTokenArgs(argv: string[], env: Record<string, string | undefined>): TokenArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      sub: { type: "string" },
      scope: { type: "string" },
      ttl: { type: "string" },
      raw: { type: "boolean", default: false },
      url: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const kind = positionals[0] ?? "member";
  if (values.help || (kind !== "member" && kind !== "service") || positionals.length > 1) {
    throw new Error(USAGE);
  }
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && !Number.isInteger(ttl)) throw new Error(`--ttl must be whole seconds\n\n${USAGE}`);
  return {
    kind,
    sub: values.sub,
    scope: values.scope,
    ttl,
    raw: values.raw ?? false,
    url: (values.url ?? env.DEV_URL ?? `http://127.0.0.1:${env.PORT ?? 8017}`).replace(/\/$/, ""),
  };
}

type Minted = { kind: string; sub: string; scope: string; expires_in: number; token: string; curl: string };

export async function requestToken(args: TokenArgs): Promise<Minted> {
  let res: Response;
  try {
    res = await fetch(`${args.url}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: args.kind, sub: args.sub, scope: args.scope, ttl_seconds: args.ttl }),
    });
  } catch {
    throw new Error(`no dev stack answers at ${args.url}: start it with \`bun run dev\` (or pass --url)`);
  }
  const body = (await res.json().catch(() => ({}))) as Partial<Minted> & { detail?: string };
  if (!res.ok || typeof body.token !== "string") {
    throw new Error(`the dev stack refused: ${res.status} ${body.detail ?? ""}`.trim());
  }
  return body as Minted;
}

if (import.meta.main) {
  try {
    const args = parseTokenArgs(process.argv.slice(2), process.env);
    const minted = await requestToken(args);
    if (args.raw) {
      console.log(minted.token);
    } else {
      console.log(`${minted.kind} ${minted.sub}${minted.scope ? `  scope: ${minted.scope}` : ""}  (valid ${Math.round(minted.expires_in / 360) / 10} h)

${minted.token}

${minted.curl}`);
    }
  } catch (error) {
    console.error(messageOf(error));
    process.exit(2);
  }
}
