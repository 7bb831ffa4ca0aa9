ALTER TABLE "alert_transitions" ADD COLUMN "alert" jsonb;--> statement-breakpoint
-- The alert after each transition, as subscribers were sent it, is known only from now on: transitions stored
-- before are marked as not to be replayed (JSON null), as a transition recorded but never published is. A NULL
-- left by a node still running the previous version during a rolling upgrade is sent with the alert as it stands.
UPDATE "alert_transitions" SET "alert" = 'null'::jsonb;
