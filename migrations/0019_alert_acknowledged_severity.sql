ALTER TABLE "alerts" ADD COLUMN "acknowledged_severity" text;--> statement-breakpoint
-- Each standing acknowledgement covers the alert as it is at the upgrade: earlier versions kept no severity with it,
-- and its ACKNOWLEDGED transition's may be lower than a level the alert has since reached unannounced (an escalated
-- alert's evaluation), which would clear it at the next evaluation, calling a fall a rise. A later rise clears it.
UPDATE "alerts" SET "acknowledged_severity" = "severity" WHERE "acknowledged_at" IS NOT NULL;
