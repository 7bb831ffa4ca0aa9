CREATE TABLE "dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"stream" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"caller" text NOT NULL,
	"item" jsonb NOT NULL,
	"errors" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "readings" (
	"source_id" text NOT NULL,
	"metric" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"value" double precision NOT NULL,
	"unit" text NOT NULL,
	"quality" text DEFAULT 'GOOD' NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "readings_quality" CHECK ("readings"."quality" in ('GOOD', 'SUSPECT', 'BAD'))
);
--> statement-breakpoint
CREATE TABLE "sources" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sources_kind" CHECK ("sources"."kind" in ('PATIENT', 'DEVICE', 'INSTRUMENT'))
);
--> statement-breakpoint
CREATE TABLE "stream_offsets" (
	"stream" text PRIMARY KEY NOT NULL,
	"last" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "dead_letters_received_at" ON "dead_letters" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "readings_seq" ON "readings" USING btree ("seq");