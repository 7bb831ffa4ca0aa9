-- When the platform received each event (its batch's arrival). Processors never let a series' clock pass it, so a
-- replay after a restart decides lateness as the live run did; they used the processing node's clock, which a
-- replay reads later, so an event stamped ahead made on-time ones late in the replay only. Nullable, no default:
-- adding it rewrites nothing (compressed chunks included), and rows stored before it keep null.
ALTER TABLE "readings" ADD COLUMN "received_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "trades" ADD COLUMN "received_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "received_at" timestamp with time zone;