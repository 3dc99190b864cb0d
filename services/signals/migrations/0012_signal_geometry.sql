-- Where PostGIS is installed (schema postgis, see stack/pg.py): each signal's point as a geometry,
-- computed from lat/lon, with a spatial index for map requests by bounding box. Without PostGIS
-- nothing changes: bounding boxes are then answered from lat/lon alone.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis') THEN
        EXECUTE 'ALTER TABLE signals ADD COLUMN IF NOT EXISTS geom postgis.geometry(Point, 4326)'
            ' GENERATED ALWAYS AS (CASE WHEN lat IS NOT NULL AND lon IS NOT NULL'
            ' THEN postgis.ST_SetSRID(postgis.ST_MakePoint(lon, lat), 4326) END) STORED';
        EXECUTE 'CREATE INDEX IF NOT EXISTS signals_by_geom ON signals USING gist (geom)';
    END IF;
END
$$;
