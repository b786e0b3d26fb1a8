CREATE TABLE "flexibility_commitments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" text NOT NULL,
	"suggestion_id" text NOT NULL,
	"suggestion_type" text DEFAULT 'shift-consumption' NOT NULL,
	"community_id" text,
	"device_id" text,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"committed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"settled_at" timestamp with time zone,
	"reminded_at" timestamp with time zone,
	"status" text DEFAULT 'committed' NOT NULL,
	"reward_points_estimated" integer DEFAULT 0 NOT NULL,
	"reward_points_actual" integer,
	"actual_kwh" numeric,
	"baseline_kwh" numeric,
	"baseline_days" integer,
	"delivered_kwh" numeric,
	"settlement_outcome" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flexibility_commitments_status_check" CHECK ("flexibility_commitments"."status" in ('committed', 'settled', 'rejected', 'cancelled')),
	CONSTRAINT "flexibility_commitments_period_check" CHECK ("flexibility_commitments"."period_end" > "flexibility_commitments"."period_start"),
	CONSTRAINT "flexibility_commitments_points_check" CHECK ("flexibility_commitments"."reward_points_actual" is null or "flexibility_commitments"."reward_points_actual" >= 0),
	CONSTRAINT "flexibility_commitments_outcome_check" CHECK ("flexibility_commitments"."settlement_outcome" is null or "flexibility_commitments"."settlement_outcome" in ('delivered', 'not_delivered', 'no_baseline', 'no_data', 'no_device', 'manual'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "flexibility_commitments_live_uq" ON "flexibility_commitments" USING btree ("user_id","suggestion_id") WHERE "flexibility_commitments"."status" = 'committed';--> statement-breakpoint
CREATE INDEX "flexibility_commitments_user_committed_idx" ON "flexibility_commitments" USING btree ("user_id","committed_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "flexibility_commitments_created_idx" ON "flexibility_commitments" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "flexibility_commitments_live_window_idx" ON "flexibility_commitments" USING btree ("period_start","period_end") WHERE "flexibility_commitments"."status" = 'committed';