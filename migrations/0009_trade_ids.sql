ALTER TABLE "trades" ADD COLUMN "trade_id" text DEFAULT '' NOT NULL;
--> statement-breakpoint
-- Two trades of one symbol in one millisecond are two trades when the venue's ids differ. Rows stored before keep
-- trade_id '', so their identity, and a resent batch's, is what it was. drizzle cannot express INCLUDE.
DROP INDEX IF EXISTS "trades_natural_key";
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "trades_natural_key"
  ON "trades" ("symbol", "time", "trade_id") INCLUDE ("price", "size");
