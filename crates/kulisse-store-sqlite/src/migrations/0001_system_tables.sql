-- Migration 1: the system tables of the releases before versioned migrations, exactly as
-- they created them at every open. It must stay idempotent: it also adopts databases made
-- by those releases (see kulisse_store::migrations).
CREATE TABLE IF NOT EXISTS _collections (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _params (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT
);
