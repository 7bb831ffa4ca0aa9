ALTER TABLE "alerts" ADD COLUMN "unacknowledged_since" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "alerts_rule" ON "alerts" USING btree ("rule_id","seq");