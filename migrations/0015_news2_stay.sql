ALTER TABLE "news2_scores" ADD COLUMN "stay" timestamp with time zone;--> statement-breakpoint
-- A NEWS2 score names its stay by admitted_at to the millisecond, as the processors hold it.
UPDATE "sources" SET "admitted_at" = date_trunc('milliseconds', "admitted_at") WHERE "admitted_at" IS NOT NULL;--> statement-breakpoint
-- Scores stored since a readmission are of that stay (as news2Scores judged them before this column).
UPDATE "news2_scores" AS n SET "stay" = s."admitted_at" FROM "sources" AS s WHERE s."id" = n."source_id" AND s."admitted_at" IS NOT NULL AND n."updated_at" >= s."admitted_at";
