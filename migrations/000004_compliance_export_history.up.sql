-- nebu: what the compliance exports (docs/compliance.md, "The compliance API") need
-- and the projection did not keep: the history of account data and of profiles.
--   account_data_history: one row per account-data entry of the stream (the projector
--     writes it beside account_data, in the same transaction); content NULL when the
--     entry removed the value. Idempotent: a replayed entry (rebuild) is skipped.
--   profile_history: one row per change of a user's profile (display name, avatar,
--     extended fields) as the accounts snapshot writes `profiles` (every 10 s when
--     changed), with the projection checkpoint at that moment; a snapshot that rewrites
--     an unchanged profile adds no row. Written by a trigger on `profiles`.
-- Both are seeded from the current values, and neither is emptied by a rebuild.

CREATE TABLE IF NOT EXISTS account_data_history (
  stream_position bigint PRIMARY KEY,
  user_id         text NOT NULL,
  room_id         text NOT NULL DEFAULT '',
  type            text NOT NULL,
  content         jsonb,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS account_data_history_user_idx
  ON account_data_history (user_id, stream_position);

CREATE TABLE IF NOT EXISTS profile_history (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id         text NOT NULL,
  displayname     text,
  avatar_url      text,
  fields          jsonb NOT NULL DEFAULT '{}'::jsonb,
  checkpoint      bigint NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS profile_history_user_idx ON profile_history (user_id, id);

CREATE OR REPLACE FUNCTION profile_history_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
      SELECT 1 FROM (SELECT h.displayname, h.avatar_url, h.fields FROM profile_history h
                      WHERE h.user_id = NEW.user_id ORDER BY h.id DESC LIMIT 1) last
       WHERE last.displayname IS NOT DISTINCT FROM NEW.displayname
         AND last.avatar_url IS NOT DISTINCT FROM NEW.avatar_url
         AND last.fields IS NOT DISTINCT FROM NEW.fields) THEN
    INSERT INTO profile_history (user_id, displayname, avatar_url, fields, checkpoint)
    VALUES (NEW.user_id, NEW.displayname, NEW.avatar_url, NEW.fields,
            COALESCE((SELECT c.position FROM nebu_projection_checkpoints c
                       WHERE c.stream = 'stream'), 0));
  END IF;
  RETURN NEW;
END
$$;
DO $$
BEGIN
  EXECUTE pg_catalog.format(
      'ALTER FUNCTION profile_history_record() SET search_path = pg_catalog, %I, pg_temp',
      pg_catalog.current_schema());
END
$$;
DROP TRIGGER IF EXISTS profiles_history ON profiles;
CREATE TRIGGER profiles_history AFTER INSERT OR UPDATE ON profiles
  FOR EACH ROW EXECUTE FUNCTION profile_history_record();

INSERT INTO account_data_history (stream_position, user_id, room_id, type, content)
SELECT stream_position, user_id, room_id, type, content FROM account_data
ON CONFLICT (stream_position) DO NOTHING;
INSERT INTO profile_history (user_id, displayname, avatar_url, fields, checkpoint)
SELECT p.user_id, p.displayname, p.avatar_url, p.fields,
       COALESCE((SELECT c.position FROM nebu_projection_checkpoints c WHERE c.stream = 'stream'), 0)
  FROM profiles p
 WHERE NOT EXISTS (SELECT 1 FROM profile_history h WHERE h.user_id = p.user_id);

-- The same row-level security as account_data: secrets only for the app role, and the
-- history is read-only for everyone else.
ALTER TABLE account_data_history ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS account_data_history_read ON account_data_history;
CREATE POLICY account_data_history_read ON account_data_history FOR SELECT USING (
  nebu_is_app_role() OR NOT (
    starts_with(type, 'm.secret_storage.') OR starts_with(type, 'm.cross_signing.') OR
    starts_with(type, 'm.megolm_backup.') OR COALESCE(content ? 'encrypted', false)));
DROP POLICY IF EXISTS account_data_history_app_write ON account_data_history;
CREATE POLICY account_data_history_app_write ON account_data_history FOR ALL
  USING (nebu_is_app_role()) WITH CHECK (nebu_is_app_role());
ALTER TABLE profile_history ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS profile_history_read ON profile_history;
CREATE POLICY profile_history_read ON profile_history FOR SELECT USING (true);
DROP POLICY IF EXISTS profile_history_app_write ON profile_history;
CREATE POLICY profile_history_app_write ON profile_history FOR ALL
  USING (nebu_is_app_role()) WITH CHECK (nebu_is_app_role());
