CREATE TABLE "flexibility_calendar_tokens" (
	"user_id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flexibility_webhooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" text,
	"community_id" text,
	"created_by" text NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"events" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	CONSTRAINT "flexibility_webhooks_owner_check" CHECK (("flexibility_webhooks"."user_id" is null) <> ("flexibility_webhooks"."community_id" is null))
);
--> statement-breakpoint
ALTER TABLE "flexibility_outbox" DROP CONSTRAINT "flexibility_outbox_kind_check";--> statement-breakpoint
CREATE UNIQUE INDEX "flexibility_calendar_tokens_hash_uq" ON "flexibility_calendar_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "flexibility_webhooks_user_idx" ON "flexibility_webhooks" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "flexibility_webhooks_community_idx" ON "flexibility_webhooks" USING btree ("community_id");--> statement-breakpoint
ALTER TABLE "flexibility_outbox" ADD CONSTRAINT "flexibility_outbox_kind_check" CHECK ("flexibility_outbox"."kind" in ('mqtt', 'nudge', 'webhook'));