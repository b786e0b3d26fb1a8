// GET /api/commitments/export of 1,000,000 commitments (the full unpaged JSON array, and NDJSON),
// streamed to /dev/null by curl, beside its ceiling measured in the same run: psql's
// `COPY (SELECT … the same rows, same order …) TO STDOUT` to /dev/null. The API runs as its own
// process; its RSS is sampled from /proc every 50 ms and VmHWM (the kernel's peak) read at the end.
// Each body is then fetched once more and checked in a streaming way: valid JSON, the right row
// count, oldest first.
// `bun run bench/export.bench.ts [--write] [--rows=1000000] [--rounds=1]`; --write rewrites the
// "Export commitments" section of bench/RESULTS.md.
import { mkdirSync } from "node:fs";
import { CommitmentOut } from "@celine/core";
import { startEmbeddedBroker, startOidcIssuer } from "@celine/fakes";
import { arg, createCleanups } from "./lib/cli.ts";
import { type CpuUsage, childNamed, postgresBackendOf, startCpuAccounting, waitForQuiet } from "./lib/cpu.ts";
import { createBenchDatabase, seedCommitments } from "./lib/database.ts";
import { checkJsonArray, checkNdjson, type StreamCheck } from "./lib/json-stream.ts";
import { apiEnv, brokerEnv, OUT_DIR, readMemory, sampleMemory, startServer } from "./lib/processes.ts";
import { describeMachine, fmt, formatTable, writeSection } from "./lib/results.ts";
import { requireTools, run } from "./lib/tools.ts";

const ROWS = arg("rows", 1_000_000);
const ROUNDS = arg("rounds", 1);
const MEMBERS = 10_000;
const DATABASE = "flex_bench_export";
const RSS_GOAL_MIB = 150;
/** Oldest first, as the export verb orders them. */
const SAME_ROWS = "select * from flexibility_commitments order by created_at, id";
const TIMEOUT_S = 600;

await requireTools(["psql", "curl"]);
mkdirSync(OUT_DIR, { recursive: true });

const cleanups = createCleanups();

type Run = { seconds: number; bytes: number; peakRssMiB: number | null; cpu: CpuUsage };

try {
  const db = await createBenchDatabase(DATABASE);
  cleanups.push(() => db.drop());
  let started = performance.now();
  await seedCommitments(db.sql, { rows: ROWS, member: "bench-member", memberRows: 0, others: MEMBERS });
  const seedMs = performance.now() - started;
  console.log(`seeded ${fmt(ROWS)} commitments in ${fmt(seedMs)} ms`);
  const [{ version = "?", size = "?" } = {}] = await db.sql<{ version: string; size: string }[]>`
    select split_part(current_setting('server_version'), ' ', 1) as version,
           pg_size_pretty(pg_total_relation_size('flexibility_commitments')) as size`;

  const issuer = await startOidcIssuer({ tokenTtlSeconds: 3600 });
  cleanups.push(() => issuer.close());
  const token = await issuer.mintService(
    "svc-pipelines",
    ["flexibility.commitments.export"],
    {},
    { expiresIn: 3600 },
  );
  // The API process runs the outbox relay: give it a broker of its own (nothing is published here).
  const broker = await startEmbeddedBroker();
  cleanups.push(() => broker.close());
  const api = await startServer({
    name: "export-api",
    script: "apps/api/bin/start.ts",
    env: apiEnv({ databaseUrl: db.url, issuer, extra: brokerEnv(broker.port) }),
  });
  cleanups.push(() => api.stop());
  const url = `${api.url}/api/commitments/export`;
  const auth = `Authorization: Bearer ${token}`;

  // Warm-up: a first page through the same code path (JIT, pool, JWKS, verification cache).
  const warm = await fetch(`${url}?limit=1000`, { headers: { authorization: `Bearer ${token}` } });
  if (warm.status !== 200) throw new Error(`warm-up answered ${warm.status}: ${await warm.text()}`);
  await warm.arrayBuffer();
  const startupRss = readMemory(api.pid);

  const measure = async (cmd: string[], withRss: boolean): Promise<Run> => {
    const memory = withRss ? sampleMemory(api.pid, 50) : null;
    const cpu = startCpuAccounting({
      server: (p) => p.pid === api.pid,
      postgres: postgresBackendOf(DATABASE),
      client: childNamed("curl", "psql"),
    });
    const t0 = performance.now();
    const { stdout } = await run(cmd, { env: db.libpqEnv, timeoutMs: TIMEOUT_S * 1000 });
    const seconds = (performance.now() - t0) / 1000;
    const usage = cpu.stop();
    const peak = memory?.stop().peakRssMiB ?? null;
    return { seconds, bytes: Number(stdout.trim().split(" ")[1] ?? 0), peakRssMiB: peak, cpu: usage };
  };
  const curl = (accept: string) => [
    "curl",
    "-sS",
    "--fail-with-body",
    "--max-time",
    String(TIMEOUT_S),
    "-o",
    "/dev/null",
    "-w",
    "%{http_code} %{size_download}",
    "-H",
    auth,
    "-H",
    `Accept: ${accept}`,
    url,
  ];
  // COPY … TO STDOUT goes to psql's query output, which -o sends to /dev/null (as curl's -o does).
  const copy = (select: string) => [
    "psql",
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-o",
    "/dev/null",
    "-c",
    `COPY (${select}) TO STDOUT`,
  ];

  const busyBefore = await waitForQuiet();
  const runs: Record<"copy" | "copyJson" | "json" | "ndjson", Run[]> = {
    copy: [],
    copyJson: [],
    json: [],
    ndjson: [],
  };
  await measure(copy(SAME_ROWS), false); // page cache and shared buffers warm for everyone
  for (let round = 1; round <= ROUNDS; round++) {
    runs.copy.push(await measure(copy(SAME_ROWS), false));
    runs.copyJson.push(await measure(copy(`select row_to_json(c) from (${SAME_ROWS}) c`), false));
    runs.json.push(await measure(curl("application/json"), true));
    runs.ndjson.push(await measure(curl("application/x-ndjson"), true));
    for (const [key, list] of Object.entries(runs)) {
      const r = list.at(-1);
      if (r) console.log(`round ${round} ${key}: ${fmt(ROWS / r.seconds)} rows/s (${fmt(r.seconds, 2)} s)`);
    }
  }

  // Correctness, outside the timed runs: the same bodies parsed as they stream.
  started = performance.now();
  const jsonCheck = await checkBody(url, token, "application/json", checkJsonArray);
  const ndjsonCheck = await checkBody(url, token, "application/x-ndjson", checkNdjson);
  console.log(`checked both bodies in ${fmt(performance.now() - started)} ms`);
  // VmHWM is the kernel's high-water mark, but it is updated lazily: take the higher of it and the samples.
  const lifetimePeak = Math.max(
    readMemory(api.pid).hwmMiB,
    ...Object.values(runs).flatMap((list) => list.map((r) => r.peakRssMiB ?? 0)),
  );

  const median = (list: Run[]) => {
    const m = [...list].sort((a, b) => a.seconds - b.seconds)[Math.floor(list.length / 2)];
    if (!m) throw new Error("no run");
    return m;
  };
  const copyRun = median(runs.copy);
  const copyJsonRun = median(runs.copyJson);
  const jsonRun = median(runs.json);
  const ndjsonRun = median(runs.ndjson);
  const rate = (r: Run) => ROWS / r.seconds;
  // The machine's speed drifts between rounds: each API run is set against the COPY of its own round,
  // and the goal is judged on the median of those per-round ratios.
  const perRound = (list: Run[]) =>
    list.map((r, i) => rate(r) / rate(runs.copy[i] as Run)).sort((a, b) => a - b);
  const ratiosJson = perRound(runs.json);
  const ratiosNdjson = perRound(runs.ndjson);
  const middle = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? 0;
  const ratioJson = middle(ratiosJson);
  const ratioNdjson = middle(ratiosNdjson);
  const peakRss = Math.max(jsonRun.peakRssMiB ?? 0, ndjsonRun.peakRssMiB ?? 0);
  const cpuMs = (ms: number | undefined) => fmt((ms ?? 0) / 1000, 2);
  const row = (label: string, r: Run, bytes: string, server: boolean) => [
    label,
    fmt(rate(r)),
    fmt(r.seconds, 2),
    bytes,
    server ? cpuMs(r.cpu.groups.server) : "–",
    cpuMs(r.cpu.groups.postgres),
    cpuMs(r.cpu.groups.client),
    r.peakRssMiB === null ? "–" : fmt(r.peakRssMiB, 1),
  ];
  const mib = (bytes: number) => `${fmt(bytes / 2 ** 20, 1)} MiB`;
  const section = [
    "## Export commitments",
    "",
    `\`bun run bench/export.bench.ts --write\` — ${describeMachine()}, PostgreSQL ${version} on the same host.`,
    "",
    `${fmt(ROWS)} commitments of ${fmt(MEMBERS)} members (table and indexes ${size}), seeded with one`,
    `\`INSERT … SELECT generate_series\` in ${fmt(seedMs / 1000, 1)} s. \`GET /api/commitments/export\` with a service token`,
    "holding only `flexibility.commitments.export`, no paging parameters (the whole table in one",
    "streamed body), fetched by `curl -o /dev/null`; the API is its own process (`apps/api/bin/start.ts`,",
    '`CELINE_ENV=dev`, default settings). Ceiling: `psql -o /dev/null -c "COPY (SELECT * FROM',
    'flexibility_commitments ORDER BY created_at, id) TO STDOUT"` — the same rows in the same order. For reference, the',
    "same COPY with each row rendered by PostgreSQL as JSON (`row_to_json`). One warm-up COPY, then",
    `${ROUNDS} round${ROUNDS === 1 ? "" : "s"} (median shown). CPU columns: seconds of CPU of the API process, of the PostgreSQL`,
    `backends of the benchmark database and of the client (curl / psql). The machine was ${fmt(100 * busyBefore, 0)} % busy`,
    "with other work just before the first round.",
    "",
    ...formatTable([
      ["target", "rows/s", "seconds", "body", "API CPU s", "PG CPU s", "client CPU s", "peak RSS MiB"],
      row("API, JSON array", jsonRun, mib(jsonRun.bytes), true),
      row("API, NDJSON", ndjsonRun, mib(ndjsonRun.bytes), true),
      row("ceiling: COPY … TO STDOUT", copyRun, "–", false),
      row("reference: COPY of row_to_json", copyJsonRun, "–", false),
    ]),
    "",
    `API / COPY, each API run against the COPY of its own round (median of ${ROUNDS}): ${fmt(ratioJson, 2)} for the JSON array`,
    `(rounds ${ratiosJson.map((r) => fmt(r, 2)).join(" / ")}), ${fmt(ratioNdjson, 2)} for NDJSON (rounds ${ratiosNdjson.map((r) => fmt(r, 2)).join(" / ")})`,
    `(goal ≥ 0.5: ${ratioJson >= 0.5 && ratioNdjson >= 0.5 ? "met" : "NOT met"}).`,
    `API RSS: ${fmt(startupRss.rssMiB, 1)} MiB after start-up and warm-up; peak sampled every 50 ms during the exports`,
    `${fmt(peakRss, 1)} MiB; over the process's whole life (VmHWM, checks included) ${fmt(lifetimePeak, 1)} MiB`,
    `(goal < ${RSS_GOAL_MIB} MB: ${lifetimePeak * 1.048576 < RSS_GOAL_MIB ? "met" : "NOT met"}).`,
    `Checked afterwards, parsed as they streamed: the JSON array holds ${fmt(jsonCheck.elements)} elements`,
    `(${mib(jsonCheck.bytes)}), the NDJSON body ${fmt(ndjsonCheck.elements)} lines (${mib(ndjsonCheck.bytes)}), every one a`,
    "JSON object, `created_at` never decreasing, every 1,000th one valid against `CommitmentOut`.",
    "",
  ].join("\n");
  console.log(`\n${section}`);
  if (process.argv.includes("--write")) writeSection("Export commitments", section);
} finally {
  await cleanups.cleanUp();
}

/** Fetch the export once more and check it as it streams; throws unless it holds exactly ROWS rows. */
async function checkBody(
  url: string,
  token: string,
  accept: string,
  check: typeof checkJsonArray,
): Promise<StreamCheck> {
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept },
    signal: AbortSignal.timeout(TIMEOUT_S * 1000),
  });
  if (res.status !== 200 || !res.body) throw new Error(`${accept} export answered ${res.status}`);
  let previous = "";
  const result = await check(res.body, (value, index) => {
    const row = value as { created_at?: unknown };
    if (typeof row !== "object" || row === null || typeof row.created_at !== "string") {
      throw new Error(
        `${accept} element ${index} is not a commitment: ${JSON.stringify(value).slice(0, 200)}`,
      );
    }
    if (row.created_at < previous) throw new Error(`${accept} element ${index} is out of order`);
    previous = row.created_at;
    if (index % 1000 === 0) {
      const parsed = CommitmentOut.safeParse(value);
      if (!parsed.success) throw new Error(`${accept} element ${index}: ${parsed.error.message}`);
    }
  });
  if (result.elements !== ROWS) throw new Error(`${accept} export has ${result.elements} rows, not ${ROWS}`);
  return result;
}
