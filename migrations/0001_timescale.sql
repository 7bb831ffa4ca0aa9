-- Natural key of a reading, covering `value` so bucketed history over one
-- series is an index-only scan. drizzle cannot express INCLUDE.
CREATE UNIQUE INDEX IF NOT EXISTS "readings_natural_key"
  ON "readings" ("source_id", "metric", "time") INCLUDE ("value");
--> statement-breakpoint
-- Use TimescaleDB when the server can load it; otherwise stay on plain tables
-- (bucketing then uses date_bin, see src/db/history.ts).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS timescaledb;
    EXCEPTION WHEN others THEN
      RAISE NOTICE 'timescaledb is available but could not be created (%); using plain tables', SQLERRM;
    END;
  END IF;
END $$;
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    PERFORM create_hypertable('readings', 'time',
      chunk_time_interval => INTERVAL '1 day',
      create_default_indexes => false,
      migrate_data => true,
      if_not_exists => true);
  END IF;
END $$;
--> statement-breakpoint
INSERT INTO "stream_offsets" ("stream", "last") VALUES ('readings', 0) ON CONFLICT DO NOTHING;
