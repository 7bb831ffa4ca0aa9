-- A source the tenant retired (a patient discharged, a device out of use): left out of source lists and of
-- signal-loss (NO_DATA) alerts until registered again. Nullable, no default: adding it rewrites nothing.
ALTER TABLE "sources" ADD COLUMN "retired_at" timestamp with time zone;