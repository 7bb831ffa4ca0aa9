CREATE TABLE "stream_claims" (
	"stream" text NOT NULL,
	"base" bigint NOT NULL,
	"count" integer NOT NULL,
	"pid" integer NOT NULL,
	"claimed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stream_claims_stream_base_pk" PRIMARY KEY("stream","base")
);
