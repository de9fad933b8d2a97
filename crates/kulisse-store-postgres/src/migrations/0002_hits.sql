-- Migration 2: the hit counters (rate limits, attempt caps), shared by every node. A row
-- is one key's fixed window. Unlogged: counts are not data, and a crash that forgets them
-- only forgives a few attempts.
CREATE UNLOGGED TABLE IF NOT EXISTS _hits (
    key TEXT PRIMARY KEY,
    closes BIGINT NOT NULL,
    hits BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS _hits_closes ON _hits (closes);
