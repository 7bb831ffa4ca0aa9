-- Natural key of a trade, covering price and size so candle SQL over one
-- symbol is an index-only scan. drizzle cannot express INCLUDE.
CREATE UNIQUE INDEX IF NOT EXISTS "trades_natural_key"
  ON "trades" ("symbol", "time") INCLUDE ("price", "size");
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    PERFORM create_hypertable('trades', 'time',
      chunk_time_interval => INTERVAL '1 day',
      create_default_indexes => false,
      migrate_data => true,
      if_not_exists => true);
  END IF;
END $$;
--> statement-breakpoint
INSERT INTO "stream_offsets" ("stream", "last") VALUES ('trades', 0) ON CONFLICT DO NOTHING;
