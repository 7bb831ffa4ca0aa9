-- Symbols traded before tenants existed (0006) were never claimed: another tenant's first trade of one would make
-- it that tenant's, and its candles would merge the earlier trades with its own. They become instruments of the
-- default tenant, which owns everything stored before 0006. Each distinct symbol is found by a skip scan of the
-- natural key's index (one probe per symbol), not a scan of every trade.
WITH RECURSIVE traded AS (
  SELECT min("symbol") AS "symbol" FROM "trades"
  UNION ALL
  SELECT (SELECT min("symbol") FROM "trades" WHERE "symbol" > traded."symbol") FROM traded WHERE traded."symbol" IS NOT NULL
)
INSERT INTO "sources" ("id", "kind", "name", "tenant_id")
SELECT "symbol", 'INSTRUMENT', "symbol", 'default' FROM traded WHERE "symbol" IS NOT NULL
ON CONFLICT ("id") DO NOTHING;
