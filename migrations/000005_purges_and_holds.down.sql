-- The events guard of 000001 (no purge columns).
CREATE OR REPLACE FUNCTION events_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF coalesce(current_setting('nebu.allow_purge', true), '') <> 'on' THEN
      RAISE EXCEPTION 'events are immutable: DELETE needs nebu.allow_purge = on'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
  END IF;
  IF (NEW.stream_position, NEW.room_id, NEW.room_number, NEW.sequence, NEW.event_id,
      NEW.sender, NEW.type, NEW.state_key, NEW.origin_server_ts, NEW.content,
      NEW.pdu::text, NEW.content_lossy, NEW.redacts)
     IS DISTINCT FROM
     (OLD.stream_position, OLD.room_id, OLD.room_number, OLD.sequence, OLD.event_id,
      OLD.sender, OLD.type, OLD.state_key, OLD.origin_server_ts, OLD.content,
      OLD.pdu::text, OLD.content_lossy, OLD.redacts) THEN
    RAISE EXCEPTION 'events are immutable: only redacted_by and redacted_at_ts may change'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.redacted_by IS NOT NULL AND NEW.redacted_by IS DISTINCT FROM OLD.redacted_by THEN
    RAISE EXCEPTION 'event % is already redacted by %', OLD.event_id, OLD.redacted_by
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
-- Like every function of 000001 but the two hot ones: names resolve in pg_catalog first
-- (CREATE OR REPLACE drops the setting 000001 gave it).
DO $$
BEGIN
  EXECUTE pg_catalog.format('ALTER FUNCTION events_guard() SET search_path = pg_catalog, %I, pg_temp',
                            pg_catalog.current_schema());
END
$$;

DELETE FROM nebu_projection_checkpoints WHERE stream = 'purges';
ALTER TABLE legal_holds DROP COLUMN IF EXISTS released_by;
ALTER TABLE legal_holds DROP COLUMN IF EXISTS case_id;
ALTER TABLE legal_holds DROP COLUMN IF EXISTS hold_id;
DROP INDEX IF EXISTS events_purged_idx;
ALTER TABLE events DROP COLUMN IF EXISTS purge_reason;
ALTER TABLE events DROP COLUMN IF EXISTS purged_at;
ALTER TABLE events DROP COLUMN IF EXISTS purged;
