CREATE TABLE "anomalies" (
	"source_id" text NOT NULL,
	"metric" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"value" double precision NOT NULL,
	"cursor" bigint NOT NULL,
	"mean" double precision NOT NULL,
	"stddev" double precision NOT NULL,
	"z_score" double precision NOT NULL,
	CONSTRAINT "anomalies_source_id_metric_time_pk" PRIMARY KEY("source_id","metric","time")
);
--> statement-breakpoint
CREATE TABLE "candles" (
	"symbol" text NOT NULL,
	"interval_ms" bigint NOT NULL,
	"start_time" timestamp with time zone NOT NULL,
	"end_time" timestamp with time zone NOT NULL,
	"open" double precision NOT NULL,
	"high" double precision NOT NULL,
	"low" double precision NOT NULL,
	"close" double precision NOT NULL,
	"volume" double precision NOT NULL,
	"vwap" double precision,
	"trades" integer NOT NULL,
	"closed" boolean NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "candles_symbol_interval_ms_start_time_pk" PRIMARY KEY("symbol","interval_ms","start_time")
);
--> statement-breakpoint
CREATE TABLE "late_events" (
	"pipeline" text NOT NULL,
	"cursor" bigint NOT NULL,
	"series" text NOT NULL,
	"event_time" timestamp with time zone NOT NULL,
	"watermark" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "late_events_pipeline_cursor_pk" PRIMARY KEY("pipeline","cursor")
);
--> statement-breakpoint
CREATE TABLE "processor_checkpoints" (
	"pipeline" text NOT NULL,
	"partition" integer NOT NULL,
	"partitions" integer NOT NULL,
	"cursor" bigint NOT NULL,
	"state" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processor_checkpoints_pipeline_partition_pk" PRIMARY KEY("pipeline","partition")
);
--> statement-breakpoint
CREATE TABLE "processor_leases" (
	"pipeline" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "trades" (
	"symbol" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"price" double precision NOT NULL,
	"size" double precision NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "trades_positive" CHECK ("trades"."price" > 0 and "trades"."size" > 0)
);
--> statement-breakpoint
CREATE TABLE "window_aggregates" (
	"source_id" text NOT NULL,
	"metric" text NOT NULL,
	"size_ms" bigint NOT NULL,
	"hop_ms" bigint NOT NULL,
	"start_time" timestamp with time zone NOT NULL,
	"end_time" timestamp with time zone NOT NULL,
	"count" integer NOT NULL,
	"min" double precision NOT NULL,
	"max" double precision NOT NULL,
	"avg" double precision NOT NULL,
	"stddev" double precision,
	"first" double precision NOT NULL,
	"last" double precision NOT NULL,
	"closed" boolean NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "window_aggregates_source_id_metric_size_ms_hop_ms_start_time_pk" PRIMARY KEY("source_id","metric","size_ms","hop_ms","start_time")
);
--> statement-breakpoint
CREATE INDEX "anomalies_cursor" ON "anomalies" USING btree ("cursor");--> statement-breakpoint
CREATE INDEX "trades_seq" ON "trades" USING btree ("seq");