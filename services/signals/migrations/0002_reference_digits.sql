-- SIG-<year>-<at least 6 digits>: 0001's lpad(.., 6) cut the millionth signal of a year down to
-- 6 characters (SIG-2026-100000 again: a duplicate reference). Numbers below a million keep their
-- zero padding; from a million on every digit is kept.
CREATE OR REPLACE FUNCTION next_signal_reference(year integer) RETURNS text AS $$
DECLARE
    seq text := 'signal_reference_' || year;
    n text;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- made concurrently by another intake
        END;
    END IF;
    n := nextval(seq::regclass)::text;
    RETURN 'SIG-' || year || '-' || CASE WHEN length(n) < 6 THEN lpad(n, 6, '0') ELSE n END;
END $$ LANGUAGE plpgsql;
