-- Areas: CBS codes with their names, hierarchy and year as loaded from a wijk- en buurtkaart.
CREATE TABLE areas (
    code         text PRIMARY KEY,
    level        text NOT NULL,
    name         text,
    municipality text NOT NULL,
    parent       text,
    year         integer,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX areas_municipality ON areas (municipality, code);
CREATE INDEX areas_parent ON areas (parent, code);

-- Boundaries only where PostGIS is installed (created by the superuser in a schema of its own, see
-- stack/pg.py); without it the service works on codes alone and areaAt answers null.
DO $$
DECLARE
    extension_schema text;
BEGIN
    SELECT n.nspname INTO extension_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'postgis';
    IF extension_schema IS NOT NULL AND has_schema_privilege(extension_schema, 'USAGE') THEN
        EXECUTE format('ALTER TABLE areas ADD COLUMN boundary %I.geometry(MultiPolygon, 4326)', extension_schema);
        EXECUTE 'CREATE INDEX areas_boundary ON areas USING gist (boundary)';
    END IF;
END
$$;
