// A throw-away PostgreSQL database per benchmark, migrated with the repository's migrations and
// filled with bulk SQL. Loopback only: the benchmarks never talk to another host.
import { MIGRATIONS_FOLDER, migratePostgres } from "@celine/core/db";
import postgres from "postgres";

export const SCHEMA = "flexibility";

/** The server to create benchmark databases on (its `postgres` database is used for admin). */
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export type BenchDatabase = {
  name: string;
  url: string;
  /** libpq environment for psql / pgbench: same server, database, search_path and time zone as the app. */
  libpqEnv: Record<string, string>;
  sql: postgres.Sql;
  /** The server's version number (e.g. "15.19"), for the results' machine line. */
  serverVersion(): Promise<string>;
  drop(): Promise<void>;
};

export async function createBenchDatabase(name: string): Promise<BenchDatabase> {
  const admin = new URL(ADMIN_URL);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(admin.hostname)) {
    throw new Error(`BENCH_DATABASE_URL must point at a loopback server, not ${admin.hostname}`);
  }
  const adminSql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await adminSql.unsafe(`drop database if exists "${name}" with (force)`);
    await adminSql.unsafe(`create database "${name}"`);
  } catch (error) {
    await adminSql.end({ timeout: 5 });
    throw new Error(`cannot create database ${name} at ${admin.host} (set BENCH_DATABASE_URL?): ${error}`);
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  await migratePostgres({ url: url.toString(), schema: SCHEMA, folder: MIGRATIONS_FOLDER });
  const sql = postgres(url.toString(), {
    max: 1,
    onnotice: () => {},
    connection: { search_path: SCHEMA, TimeZone: "UTC" },
  });
  let dropped = false;
  return {
    name,
    url: url.toString(),
    libpqEnv: {
      PGHOST: url.hostname,
      PGPORT: url.port || "5432",
      PGUSER: decodeURIComponent(url.username || "postgres"),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: name,
      PGOPTIONS: `-c search_path=${SCHEMA} -c TimeZone=UTC`,
    },
    sql,
    async serverVersion() {
      const [row] = await sql<{ version: string }[]>`
        select split_part(current_setting('server_version'), ' ', 1) as version`;
      return row?.version ?? "?";
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await sql.end({ timeout: 5 });
      await adminSql.unsafe(`drop database if exists "${name}" with (force)`);
      await adminSql.end({ timeout: 5 });
    },
  };
}

export type SeedOptions = {
  /** Rows in all. */
  rows: number;
  /** The first `memberRows` rows belong to `member`; the rest are spread over `others` members. */
  member: string;
  memberRows: number;
  others: number;
};

/**
 * Commitments in one `INSERT … SELECT generate_series`: a realistic status mix (60 % settled with
 * measured kWh, 10 % cancelled, 10 % rejected, 20 % live), 30-second windows 37 s apart (so no
 * member's live ones overlap: the exclusion constraint of migration 0004), one suggestion per row (so
 * the one-live-per-window index holds), then VACUUM ANALYZE.
 */
export async function seedCommitments(sql: postgres.Sql, o: SeedOptions): Promise<void> {
  await sql`
    insert into flexibility_commitments (
      user_id, suggestion_id, suggestion_type, community_id, device_id, period_start, period_end,
      committed_at, created_at, settled_at, status, reward_points_estimated, reward_points_actual,
      actual_kwh, baseline_kwh, baseline_days, delivered_kwh, settlement_outcome)
    select
      case when g <= ${o.memberRows} then ${o.member} else 'member-' || (g % ${o.others}) end,
      'window-' || g,
      case when g % 3 = 0 then 'reduce-consumption' else 'shift-consumption' end,
      'community-' || (g % 7),
      'device-' || (g % 5000),
      w.start,
      w.start + interval '30 seconds',
      w.start - interval '2 hours',
      w.start - interval '2 hours',
      case when g % 10 < 6 then w.start + interval '1 day' end,
      case when g % 10 < 6 then 'settled' when g % 10 = 6 then 'cancelled'
           when g % 10 = 7 then 'rejected' else 'committed' end,
      10 + g % 40,
      case when g % 10 < 6 then g % 50 end,
      case when g % 10 < 6 then round((g % 1000) / 250.0, 3) end,
      case when g % 10 < 6 then round((g % 800) / 200.0, 3) end,
      case when g % 10 < 6 then 10 end,
      case when g % 10 < 6 then round((g % 600) / 300.0, 3) end,
      case when g % 10 < 6 then 'delivered' end
    from generate_series(1, ${o.rows}) g,
      lateral (select timestamptz '2025-01-01T00:00:00Z' + g * interval '37 seconds' as start) w`;
  await sql`vacuum analyze flexibility_commitments`;
}
