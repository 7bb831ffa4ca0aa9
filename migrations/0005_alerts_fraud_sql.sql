-- At most one open alert per rule and series, whichever node raises it.
CREATE UNIQUE INDEX IF NOT EXISTS "alerts_one_open"
  ON "alerts" ("rule_id", "source_id", coalesce("metric", ''))
  WHERE "state" <> 'RESOLVED';
--> statement-breakpoint
INSERT INTO "stream_offsets" ("stream", "last") VALUES ('transactions', 0) ON CONFLICT DO NOTHING;
