ALTER TABLE "alerts" ADD COLUMN "escalated_severity" text;--> statement-breakpoint
-- The level escalation raised each escalated alert to: that of its latest ESCALATED transition (escalation only
-- raises, and the versions before this one never lowered an escalated alert), else the alert's own.
UPDATE "alerts" AS a SET "escalated_severity" = coalesce(
  (SELECT t."severity" FROM "alert_transitions" AS t WHERE t."alert_id" = a."id" AND t."kind" = 'ESCALATED' ORDER BY t."seq" DESC LIMIT 1),
  a."severity"
) WHERE a."escalated_at" IS NOT NULL;
