CREATE TABLE "alert_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"source_ids" text[],
	"params" jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alert_rules_kind" CHECK ("alert_rules"."kind" in ('THRESHOLD', 'RATE_OF_CHANGE', 'NEWS2', 'NO_DATA'))
);
--> statement-breakpoint
CREATE TABLE "alert_transitions" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"alert_id" text NOT NULL,
	"kind" text NOT NULL,
	"severity" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"event_time" timestamp with time zone,
	"value" double precision,
	"message" text NOT NULL,
	"actor" text
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" text PRIMARY KEY NOT NULL,
	"rule_id" text NOT NULL,
	"source_id" text NOT NULL,
	"metric" text,
	"state" text NOT NULL,
	"severity" text NOT NULL,
	"value" double precision,
	"message" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"fired_at" timestamp with time zone,
	"resolved_at" timestamp with time zone,
	"acknowledged_by" text,
	"acknowledged_at" timestamp with time zone,
	"acknowledge_note" text,
	"escalated_at" timestamp with time zone,
	"seq" bigserial NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fraud_signals" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"transaction_ids" text[] NOT NULL,
	"details" jsonb NOT NULL,
	"message" text NOT NULL,
	"seq" bigserial NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "news2_scores" (
	"source_id" text PRIMARY KEY NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"total" integer NOT NULL,
	"risk" text NOT NULL,
	"scores" jsonb NOT NULL,
	"values" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "transactions" (
	"id" text PRIMARY KEY NOT NULL,
	"card_id" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"amount" double precision NOT NULL,
	"currency" text NOT NULL,
	"merchant" text NOT NULL,
	"lat" double precision NOT NULL,
	"lon" double precision NOT NULL,
	"ip" text NOT NULL,
	"seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "alert_transitions_alert" ON "alert_transitions" USING btree ("alert_id","seq");--> statement-breakpoint
CREATE INDEX "alert_transitions_seq" ON "alert_transitions" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "alerts_state" ON "alerts" USING btree ("state");--> statement-breakpoint
CREATE INDEX "alerts_source" ON "alerts" USING btree ("source_id");--> statement-breakpoint
CREATE INDEX "alerts_seq" ON "alerts" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "fraud_signals_seq" ON "fraud_signals" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "fraud_signals_subject" ON "fraud_signals" USING btree ("subject","time");--> statement-breakpoint
CREATE INDEX "transactions_seq" ON "transactions" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "transactions_card_time" ON "transactions" USING btree ("card_id","time");