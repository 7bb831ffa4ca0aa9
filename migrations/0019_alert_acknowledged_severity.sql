ALTER TABLE "alerts" ADD COLUMN "acknowledged_severity" text;--> statement-breakpoint
-- The severity each standing acknowledgement was made at: that of its ACKNOWLEDGED transition (the latest), else
-- the alert's own (the acknowledgement was made at it unless an evaluation raised it since).
UPDATE "alerts" AS a SET "acknowledged_severity" = coalesce(
  (SELECT t."severity" FROM "alert_transitions" AS t WHERE t."alert_id" = a."id" AND t."kind" = 'ACKNOWLEDGED' ORDER BY t."seq" DESC LIMIT 1),
  a."severity"
) WHERE a."acknowledged_at" IS NOT NULL;
