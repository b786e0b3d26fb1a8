CREATE TABLE "flexibility_meter_chunks" (
	"device_id" text NOT NULL,
	"chunk_start" timestamp with time zone NOT NULL,
	"user_id" text NOT NULL,
	"interval_seconds" integer NOT NULL,
	"micro_kwh" bigint[] NOT NULL,
	"fetched_at" timestamp with time zone NOT NULL,
	"final" boolean NOT NULL,
	CONSTRAINT "flexibility_meter_chunks_device_id_chunk_start_pk" PRIMARY KEY("device_id","chunk_start")
);
--> statement-breakpoint
CREATE TABLE "flexibility_points_ledger" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"commitment_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"community_id" text,
	"kind" text NOT NULL,
	"points" integer NOT NULL,
	"revision" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flexibility_points_ledger_kind_check" CHECK ("flexibility_points_ledger"."kind" in ('settlement', 'restatement', 'manual'))
);
--> statement-breakpoint
CREATE TABLE "flexibility_settlements" (
	"commitment_id" uuid NOT NULL,
	"revision" integer NOT NULL,
	"method" text NOT NULL,
	"outcome" text NOT NULL,
	"points" integer NOT NULL,
	"explanation" jsonb NOT NULL,
	"inputs" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flexibility_settlements_commitment_id_revision_pk" PRIMARY KEY("commitment_id","revision")
);
--> statement-breakpoint
ALTER TABLE "flexibility_commitments" ALTER COLUMN "settlement_points_per_kwh" SET DATA TYPE numeric;--> statement-breakpoint
ALTER TABLE "flexibility_commitments" ADD COLUMN "origin" text DEFAULT 'member' NOT NULL;--> statement-breakpoint
ALTER TABLE "flexibility_commitments" ADD COLUMN "notice_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "flexibility_commitments" ADD COLUMN "settlement_revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "flexibility_commitments" ADD COLUMN "settlement_raw" double precision;--> statement-breakpoint
ALTER TABLE "flexibility_offers" ADD COLUMN "first_offered_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "flexibility_meter_chunks_start_idx" ON "flexibility_meter_chunks" USING btree ("chunk_start");--> statement-breakpoint
CREATE INDEX "flexibility_meter_chunks_user_idx" ON "flexibility_meter_chunks" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "flexibility_points_ledger_revision_uq" ON "flexibility_points_ledger" USING btree ("commitment_id","revision");--> statement-breakpoint
CREATE INDEX "flexibility_points_ledger_user_idx" ON "flexibility_points_ledger" USING btree ("user_id","created_at");--> statement-breakpoint
ALTER TABLE "flexibility_commitments" ADD CONSTRAINT "flexibility_commitments_origin_check" CHECK ("flexibility_commitments"."origin" in ('member', 'operator'));--> statement-breakpoint
-- Existing rows: an offer was first shown when it was last shown (nothing older is known); a commitment's notice is its own time.
UPDATE "flexibility_offers" SET "first_offered_at" = "offered_at";--> statement-breakpoint
UPDATE "flexibility_commitments" SET "notice_at" = "committed_at";--> statement-breakpoint
UPDATE "flexibility_commitments" SET "settlement_revision" = 1 WHERE "status" = 'settled';--> statement-breakpoint
-- Every settled row's points become its first ledger entry, so reward_points_actual stays the sum of its entries.
INSERT INTO "flexibility_points_ledger" ("commitment_id", "user_id", "community_id", "kind", "points", "revision", "created_at")
  SELECT "id", "user_id", "community_id", CASE WHEN "settlement_outcome" = 'manual' THEN 'manual' ELSE 'settlement' END,
    coalesce("reward_points_actual", 0), 1, coalesce("settled_at", "committed_at")
  FROM "flexibility_commitments" WHERE "status" = 'settled';--> statement-breakpoint
-- A member's live commitments never overlap in time (energy is counted once). Of live commitments that
-- overlap an earlier-made live one of the same member, the later-made is cancelled before the constraint
-- is added (they could only have been made by the client-chosen windows this migration's release closes).
UPDATE "flexibility_commitments" AS c SET "status" = 'cancelled'
  WHERE c."status" = 'committed' AND EXISTS (
    SELECT 1 FROM "flexibility_commitments" AS o
    WHERE o."user_id" = c."user_id" AND o."status" = 'committed' AND o."id" <> c."id"
      AND (o."committed_at", o."id") < (c."committed_at", c."id")
      AND o."period_start" < c."period_end" AND c."period_start" < o."period_end");--> statement-breakpoint
-- btree_gist gives text its `=` in a GiST index. It lives in public, not in DB_SCHEMA: dropping one
-- schema (a test's) must never take the operator class away from another's constraint.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;--> statement-breakpoint
ALTER TABLE "flexibility_commitments" ADD CONSTRAINT "flexibility_commitments_live_overlap_excl"
  EXCLUDE USING gist ("user_id" WITH =, tstzrange("period_start", "period_end") WITH &&) WHERE ("status" = 'committed');
