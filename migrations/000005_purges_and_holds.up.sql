-- nebu: purged events and legal holds (issue 12, engine/compliance/compliance.h).
--   events.purged, purged_at, purge_reason: the event was purged (an admin purge, a room
--     deletion with purge, or the retention job): its content is '{}' (or what the room
--     version's redaction keeps) and pdu is the tombstone the log keeps (event ID, type,
--     sender, room, origin_server_ts and the content hash stay). Written by the projector's
--     purge pass (projections/purge_projection.h) after the event's own row.
--   legal_holds.hold_id, case_id, released_by: the engine's hold records, projected as a
--     snapshot (the engine is the source of truth; rows are upserted by hold_id).
--   nebu_projection_checkpoints row 'purges': the last purge record number projected.

ALTER TABLE events ADD COLUMN IF NOT EXISTS purged boolean NOT NULL DEFAULT false;
ALTER TABLE events ADD COLUMN IF NOT EXISTS purged_at timestamptz;
ALTER TABLE events ADD COLUMN IF NOT EXISTS purge_reason text;
CREATE INDEX IF NOT EXISTS events_purged_idx ON events (room_id, purged_at) WHERE purged;

ALTER TABLE legal_holds ADD COLUMN IF NOT EXISTS hold_id text UNIQUE;
ALTER TABLE legal_holds ADD COLUMN IF NOT EXISTS case_id text NOT NULL DEFAULT '';
ALTER TABLE legal_holds ADD COLUMN IF NOT EXISTS released_by text;

INSERT INTO nebu_projection_checkpoints (stream) VALUES ('purges') ON CONFLICT DO NOTHING;

-- Events stay immutable, except for the redaction columns (once) and, now, one purge:
-- an UPDATE that sets purged from false to true may replace content, pdu and
-- content_lossy and set purged_at and purge_reason; the identity columns never change
-- and a purged row stays purged.
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
      NEW.sender, NEW.type, NEW.state_key, NEW.origin_server_ts, NEW.redacts)
     IS DISTINCT FROM
     (OLD.stream_position, OLD.room_id, OLD.room_number, OLD.sequence, OLD.event_id,
      OLD.sender, OLD.type, OLD.state_key, OLD.origin_server_ts, OLD.redacts) THEN
    RAISE EXCEPTION 'events are immutable: their identity never changes'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.purged AND NOT OLD.purged THEN
    RETURN NEW;  -- the purge: content and pdu become the tombstone
  END IF;
  IF (NEW.content, NEW.pdu::text, NEW.content_lossy, NEW.purged, NEW.purged_at,
      NEW.purge_reason)
     IS DISTINCT FROM
     (OLD.content, OLD.pdu::text, OLD.content_lossy, OLD.purged, OLD.purged_at,
      OLD.purge_reason) THEN
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
