CREATE TABLE "flexibility_broadcasts" (
	"community_id" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"estimated_kwh" numeric NOT NULL,
	"members" integer DEFAULT 0 NOT NULL,
	"sent_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flexibility_broadcasts_community_id_window_start_pk" PRIMARY KEY("community_id","window_start")
);
--> statement-breakpoint
CREATE TABLE "flexibility_offers" (
	"user_id" text NOT NULL,
	"window_id" text NOT NULL,
	"community_id" text,
	"device_id" text,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"reward_points" integer,
	"impact_kwh" numeric,
	"community_kwh" numeric,
	"offered_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flexibility_offers_user_id_window_id_pk" PRIMARY KEY("user_id","window_id")
);
--> statement-breakpoint
CREATE TABLE "flexibility_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	"payload" jsonb NOT NULL,
	"commitment_id" uuid,
	"requires_live" boolean DEFAULT false NOT NULL,
	"due_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "flexibility_outbox_kind_check" CHECK ("flexibility_outbox"."kind" in ('mqtt', 'nudge')),
	CONSTRAINT "flexibility_outbox_status_check" CHECK ("flexibility_outbox"."status" in ('pending', 'delivered', 'failed', 'dropped'))
);
--> statement-breakpoint
CREATE TABLE "flexibility_preferences" (
	"user_id" text PRIMARY KEY NOT NULL,
	"leaderboard_visible" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flexibility_processed_runs" (
	"run_id" text PRIMARY KEY NOT NULL,
	"flow" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "flexibility_outbox_pending_idx" ON "flexibility_outbox" USING btree ("next_attempt_at","id") WHERE "flexibility_outbox"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "flexibility_outbox_commitment_idx" ON "flexibility_outbox" USING btree ("commitment_id","id");