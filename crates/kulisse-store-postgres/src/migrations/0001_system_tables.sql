-- Migration 1: the system tables of the releases before versioned migrations, exactly as
-- they created them at every open. It must stay idempotent: it also adopts databases made
-- by those releases (see kulisse_store::migrations).
CREATE TABLE IF NOT EXISTS _collections (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created TEXT NOT NULL,
    _rowid BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE UNIQUE INDEX IF NOT EXISTS _collections_name ON _collections (lower(name));
CREATE TABLE IF NOT EXISTS _params (
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE OR REPLACE FUNCTION kulisse_to_num(t text) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$' THEN t::float8 END
$$;
CREATE OR REPLACE FUNCTION kulisse_num_text(n float8) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n = trunc(n) AND abs(n) < 9e15 THEN trunc(n)::bigint::text ELSE n::text END
$$;
CREATE OR REPLACE FUNCTION kulisse_json(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION kulisse_json_array(t text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(kulisse_json(t)) = 'array' THEN kulisse_json(t) END
$$;
CREATE OR REPLACE FUNCTION kulisse_json_length(t text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE jsonb_typeof(kulisse_json(t)) WHEN 'array' THEN jsonb_array_length(kulisse_json(t)) WHEN NULL THEN NULL ELSE 0 END
$$;
CREATE OR REPLACE FUNCTION kulisse_json_num(v jsonb) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'number' THEN (v #>> '{}')::float8 WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN 1 ELSE 0 END END
$$;
CREATE OR REPLACE FUNCTION kulisse_json_text(v jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' WHEN 'object' THEN v::text WHEN 'array' THEN v::text END
$$;
CREATE OR REPLACE FUNCTION kulisse_geo_distance(lon_a float8, lat_a float8, lon_b float8, lat_b float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT 2 * 6371 * asin(sqrt(
        power(sin(radians(lat_b - lat_a) / 2), 2)
        + cos(radians(lat_a)) * cos(radians(lat_b)) * power(sin(radians(lon_b - lon_a) / 2), 2)))
$$;
CREATE OR REPLACE FUNCTION kulisse_strftime(fmt text, value text, modifiers text[]) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    ts timestamptz;
    out text := '';
    i int := 1;
    c text;
BEGIN
    IF array_length(modifiers, 1) > 0 THEN
        RETURN NULL;
    END IF;
    BEGIN
        ts := CASE WHEN value = 'now' THEN now() ELSE value::timestamptz END;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
    IF ts IS NULL THEN
        RETURN NULL;
    END IF;
    ts := ts AT TIME ZONE 'UTC';
    WHILE i <= length(fmt) LOOP
        c := substr(fmt, i, 1);
        IF c = '%' AND i < length(fmt) THEN
            i := i + 1;
            c := substr(fmt, i, 1);
            out := out || CASE c
                WHEN 'Y' THEN to_char(ts, 'YYYY') WHEN 'm' THEN to_char(ts, 'MM') WHEN 'd' THEN to_char(ts, 'DD')
                WHEN 'H' THEN to_char(ts, 'HH24') WHEN 'M' THEN to_char(ts, 'MI') WHEN 'S' THEN to_char(ts, 'SS')
                WHEN 'f' THEN to_char(ts, 'SS.MS') WHEN 'j' THEN to_char(ts, 'DDD') WHEN 'w' THEN (extract(dow FROM ts))::int::text
                WHEN 's' THEN (extract(epoch FROM ts))::bigint::text WHEN '%' THEN '%'
                ELSE NULL END;
        ELSE
            out := out || c;
        END IF;
        i := i + 1;
    END LOOP;
    RETURN out;
END
$$;
