CREATE TABLE "processor_series_states" (
	"pipeline" text NOT NULL,
	"series" text NOT NULL,
	"partition" integer NOT NULL,
	"clock" double precision NOT NULL,
	"state" json NOT NULL,
	"cursor" bigint NOT NULL,
	CONSTRAINT "processor_series_states_pipeline_series_pk" PRIMARY KEY("pipeline","series")
);
--> statement-breakpoint
-- Rows are rewritten at every checkpoint that changes their series: room on each page keeps those updates HOT (no new index entry; a quarter of the WAL per row here).
ALTER TABLE "processor_series_states" SET (fillfactor = 60);
