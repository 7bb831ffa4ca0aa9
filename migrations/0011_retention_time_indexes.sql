-- The retention sweep (src/db/retention.ts) deletes by time every hour. No index began with these time columns,
-- so each sweep read every row of every table, on every node, even when nothing had expired (RETAIN_FOR defaults
-- to ten years). A BRIN index per column is a few pages per gigabyte and costs an insert next to nothing: rows
-- arrive roughly in time order. Readings and trades are left out where TimescaleDB keeps them as hypertables:
-- there whole chunks are dropped, by the chunks' own time ranges.
CREATE INDEX IF NOT EXISTS "window_aggregates_end_time_brin" ON "window_aggregates" USING brin ("end_time") WITH (autosummarize = on);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "candles_end_time_brin" ON "candles" USING brin ("end_time") WITH (autosummarize = on);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "anomalies_time_brin" ON "anomalies" USING brin ("time") WITH (autosummarize = on);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "late_events_event_time_brin" ON "late_events" USING brin ("event_time") WITH (autosummarize = on);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "transactions_time_brin" ON "transactions" USING brin ("time") WITH (autosummarize = on);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "fraud_signals_time_brin" ON "fraud_signals" USING brin ("time") WITH (autosummarize = on);
--> statement-breakpoint
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    CREATE INDEX IF NOT EXISTS "readings_time_brin" ON "readings" USING brin ("time") WITH (autosummarize = on);
    CREATE INDEX IF NOT EXISTS "trades_time_brin" ON "trades" USING brin ("time") WITH (autosummarize = on);
  END IF;
END $$;
