-- nebu: the squashed schema of the PostgreSQL projection, in its final state.
--
-- The RocksDB log is the source of truth; everything here is derived from it by the
-- projector (projections/) or written by the admin/compliance API. Runnable by the
-- single runtime role (no CREATE ROLE, no ownership transfers, no superuser): every
-- object is created in the current schema and owned by the role that runs this file.
-- golang-migrate (and nebu's own runner) wraps this file in one transaction, so there
-- is no CREATE INDEX CONCURRENTLY. Extensions: none required (sha256, gen_random_uuid
-- and full-text search are built into PostgreSQL >= 13).
--
-- Times: `*_ts` columns are Matrix milliseconds since the epoch (bigint) as in the
-- events; `*_at` columns are timestamptz kept by PostgreSQL.

-- ---------------------------------------------------------------------------------
-- Functions used by triggers and policies
-- ---------------------------------------------------------------------------------

-- Name resolution in functions. A function body resolves names with the search_path
-- of whoever calls it, and a role that may create objects anywhere on that path (a
-- schema of its own, public with CREATE, its temporary schema, which is searched
-- first for tables) could put its own pg_has_role, operator or table there. So every
-- function below runs with search_path = pg_catalog, <this schema>, pg_temp (set by
-- the block at the end of this file), except the two on the projector's hot path
-- (a SET clause costs each call a path switch and keeps SQL functions from being
-- inlined), whose bodies name only pg_catalog objects, schema-qualified.

-- Keeps updated_at current on every UPDATE.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END;
$$;

-- Matrix milliseconds to timestamptz.
CREATE FUNCTION nebu_ms_to_timestamptz(ms bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT pg_catalog.to_timestamp(ms OPERATOR(pg_catalog./) 1000.0)
$$;

-- ---------------------------------------------------------------------------------
-- Operations: projection checkpoints, node registry, audit log
-- ---------------------------------------------------------------------------------

-- One row per projected stream: the last stream position whose effects are in this
-- database. Written in the same transaction as the rows of each batch.
CREATE TABLE nebu_projection_checkpoints (
  stream          text PRIMARY KEY,
  position        bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
  events_total    bigint NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
  node_id         text PRIMARY KEY,
  address         text NOT NULL,
  role            text NOT NULL DEFAULT 'core' CHECK (role IN ('core', 'gateway', 'media')),
  version         text NOT NULL DEFAULT '',
  first_seen_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Append-only: who did what through the admin and compliance surfaces.
CREATE TABLE audit_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  actor           text NOT NULL,
  action          text NOT NULL,
  target          text,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- ---------------------------------------------------------------------------------
-- Accounts
-- ---------------------------------------------------------------------------------

CREATE TABLE users (
  user_id         text PRIMARY KEY CHECK (user_id LIKE '@%:%'),
  is_admin        boolean NOT NULL DEFAULT false,
  is_guest        boolean NOT NULL DEFAULT false,
  deactivated     boolean NOT NULL DEFAULT false,
  created_ts      bigint NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Secret: argon2id hashes. Row-level security hides every row from other roles.
CREATE TABLE user_passwords (
  user_id         text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
  password_hash   text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_threepids (
  user_id         text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  medium          text NOT NULL CHECK (medium IN ('email', 'msisdn')),
  address         text NOT NULL,
  validated_ts    bigint NOT NULL DEFAULT 0,
  added_ts        bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (medium, address)
);

CREATE TABLE profiles (
  user_id         text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
  displayname     text,
  avatar_url      text,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
  user_id         text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  device_id       text NOT NULL,
  display_name    text,
  created_ts      bigint NOT NULL DEFAULT 0,
  last_seen_ts    bigint,
  last_seen_ip    inet,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, device_id)
);

-- Secret: SHA-256 of access tokens (never the tokens). Metadata only otherwise.
CREATE TABLE access_tokens (
  token_hash      text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  user_id         text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  device_id       text NOT NULL,
  created_ts      bigint NOT NULL DEFAULT 0,
  last_used_ts    bigint,
  expires_ts      bigint
);

-- Device keys metadata: which algorithms and key IDs a device published.
CREATE TABLE device_keys (
  user_id         text NOT NULL,
  device_id       text NOT NULL,
  algorithms      text[] NOT NULL DEFAULT '{}',
  key_ids         text[] NOT NULL DEFAULT '{}',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, device_id)
);

-- Secret: the public key material and signatures as published (JSON). Hidden by RLS.
CREATE TABLE device_key_material (
  user_id         text NOT NULL,
  device_id       text NOT NULL,
  key_json        jsonb NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

CREATE TABLE cross_signing_keys (
  user_id         text NOT NULL,
  key_type        text NOT NULL CHECK (key_type IN ('master', 'self_signing', 'user_signing')),
  key_json        jsonb NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key_type)
);

CREATE TABLE push_rules (
  user_id         text NOT NULL,
  scope           text NOT NULL DEFAULT 'global',
  kind            text NOT NULL CHECK (kind IN ('override', 'content', 'room', 'sender', 'underride')),
  rule_id         text NOT NULL,
  priority        integer NOT NULL DEFAULT 0,
  conditions      jsonb NOT NULL DEFAULT '[]'::jsonb,
  actions         jsonb NOT NULL DEFAULT '[]'::jsonb,
  enabled         boolean NOT NULL DEFAULT true,
  pattern         text,  -- content rules: the glob matched against content.body
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, scope, kind, rule_id)
);

-- Global (room_id = '') and per-room account data, current value. Projected from the
-- stream's account-data entries.
CREATE TABLE account_data (
  user_id         text NOT NULL,
  room_id         text NOT NULL DEFAULT '',
  type            text NOT NULL,
  content         jsonb NOT NULL,
  stream_position bigint NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, room_id, type)
);

-- ---------------------------------------------------------------------------------
-- Rooms and events
-- ---------------------------------------------------------------------------------

CREATE TABLE rooms (
  room_id         text PRIMARY KEY CHECK (room_id LIKE '!%'),
  room_number     bigint NOT NULL UNIQUE,
  room_version    text NOT NULL DEFAULT '11',
  creator         text,
  created_ts      bigint NOT NULL DEFAULT 0,
  last_sequence   bigint NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE room_aliases (
  alias           text PRIMARY KEY CHECK (alias LIKE '#%:%'),
  room_id         text NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
  creator         text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE room_directory (
  room_id         text PRIMARY KEY REFERENCES rooms (room_id) ON DELETE CASCADE,
  visibility      text NOT NULL DEFAULT 'private' CHECK (visibility IN ('public', 'private')),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Every accepted room event, in stream order. Immutable except for the redaction
-- columns (trigger below). content is the event's content; pdu the rest of the event
-- as the log holds it (hashes, signatures, auth and prev events, depth, ...), so the
-- whole event is pdu::jsonb || jsonb_build_object('content', content) (pdu is json, kept as
-- the log's text: jsonb would cost the projector a third of its rate). content_lossy marks
-- an event whose JSON held U+0000, which jsonb cannot store: those are U+FFFD here.
CREATE TABLE events (
  stream_position   bigint PRIMARY KEY,
  room_id           text NOT NULL,
  room_number       bigint NOT NULL,
  sequence          bigint NOT NULL CHECK (sequence >= 1),
  event_id          text NOT NULL CHECK (event_id LIKE '$%'),
  sender            text NOT NULL,
  type              text NOT NULL,
  state_key         text,
  origin_server_ts  bigint NOT NULL,
  content           jsonb NOT NULL,
  pdu               json NOT NULL,
  content_lossy     boolean NOT NULL DEFAULT false,
  redacts           text,
  redacted_by       text,
  redacted_at_ts    bigint,
  -- room_number identifies the room as room_id does (rooms maps them); the integer key
  -- costs the COPY less than (room_id, sequence) would.
  UNIQUE (room_number, sequence)
);
-- event_id is unique without a UNIQUE constraint: an event has one stream position (the
-- primary key) and one (room, sequence), and the log indexes event IDs. Its index is a
-- hash index (equality lookups and joins are what it serves); a unique B-tree on these
-- random strings cost the projector's COPY a tenth of its rate. For the same reason
-- the event_id columns of event_relations, redactions, state_events and
-- membership_history are not declared foreign keys: the projector writes those rows in
-- the transaction of their event, and `nebu projection verify` reports any row whose
-- event is missing.

-- Full-text search over message bodies ('simple' configuration: no stemming): one row
-- per m.room.message whose content has a string body. Filled by the projector's search
-- pass (projections/search_indexer.h) on its own connection, behind the events, with
-- its own checkpoint (nebu_projection_checkpoints row 'search'), so the events table
-- carries no full-text index and takes events at the rate of its B-tree indexes.
CREATE TABLE event_search (
  stream_position   bigint PRIMARY KEY REFERENCES events (stream_position) ON DELETE CASCADE,
  tsv               tsvector NOT NULL
);

-- m.relates_to of events: edits (m.replace), threads, replies, annotations.
CREATE TABLE event_relations (
  event_id          text PRIMARY KEY,
  relates_to_id     text NOT NULL,
  rel_type          text NOT NULL,
  room_id           text NOT NULL,
  sender            text NOT NULL,
  origin_server_ts  bigint NOT NULL
);

-- One row per redaction event: who redacted what, when.
CREATE TABLE redactions (
  redaction_event_id text PRIMARY KEY,
  redacts            text NOT NULL,
  room_id            text NOT NULL,
  sender             text NOT NULL,
  reason             text,
  origin_server_ts   bigint NOT NULL
);

-- Every state event ever accepted (the state history).
CREATE TABLE state_events (
  room_id           text NOT NULL,
  type              text NOT NULL,
  state_key         text NOT NULL,
  sequence          bigint NOT NULL,
  event_id          text NOT NULL,
  PRIMARY KEY (room_id, type, state_key, sequence)
);

-- The current state of each room: (type, state_key) -> the event holding it.
CREATE TABLE current_state (
  room_id           text NOT NULL,
  type              text NOT NULL,
  state_key         text NOT NULL,
  sequence          bigint NOT NULL,
  event_id          text NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, type, state_key)
);

-- Membership history: one row per m.room.member event.
CREATE TABLE membership_history (
  room_id           text NOT NULL,
  user_id           text NOT NULL,
  sequence          bigint NOT NULL,
  membership        text NOT NULL CHECK (membership IN ('invite', 'join', 'knock', 'leave', 'ban')),
  event_id          text NOT NULL,
  sender            text NOT NULL,
  origin_server_ts  bigint NOT NULL,
  PRIMARY KEY (room_id, user_id, sequence)
);

-- Current membership of each user in each room.
CREATE TABLE room_memberships (
  room_id           text NOT NULL,
  user_id           text NOT NULL,
  membership        text NOT NULL CHECK (membership IN ('invite', 'join', 'knock', 'leave', 'ban')),
  sequence          bigint NOT NULL,
  event_id          text NOT NULL,
  since_ts          bigint NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, user_id)
);

-- Rooms a user forgot (POST /rooms/{roomId}/forget) and has not re-entered since.
-- Projected with the accounts snapshot; the engine keeps no time for it.
CREATE TABLE room_forgotten (
  user_id           text NOT NULL,
  room_id           text NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

CREATE TABLE receipts (
  room_id           text NOT NULL,
  user_id           text NOT NULL,
  receipt_type      text NOT NULL,
  thread_id         text NOT NULL DEFAULT '',
  event_id          text NOT NULL,
  ts                bigint NOT NULL,
  stream_position   bigint NOT NULL,
  PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);

-- ---------------------------------------------------------------------------------
-- Media, moderation and compliance
-- ---------------------------------------------------------------------------------

CREATE TABLE media (
  server_name       text NOT NULL,
  media_id          text NOT NULL,
  uploader          text,
  content_type      text,
  upload_name       text,
  size_bytes        bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
  sha256            text,
  storage_key       text,
  quarantined       boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  last_access_at    timestamptz,
  PRIMARY KEY (server_name, media_id)
);

CREATE TABLE event_reports (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id           text NOT NULL,
  event_id          text NOT NULL,
  reporter          text NOT NULL,
  reason            text,
  score             integer CHECK (score BETWEEN -100 AND 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  resolved_at       timestamptz,
  resolved_by       text
);

-- Message retention: room_id NULL is the server-wide default.
CREATE TABLE retention_policies (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id           text UNIQUE,
  min_lifetime_ms   bigint CHECK (min_lifetime_ms >= 0),
  max_lifetime_ms   bigint CHECK (max_lifetime_ms >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- A legal hold keeps a user's or a room's data from retention purges.
CREATE TABLE legal_holds (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id           text,
  room_id           text,
  reason            text NOT NULL,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  released_at       timestamptz,
  CHECK (user_id IS NOT NULL OR room_id IS NOT NULL)
);

CREATE TABLE compliance_exports (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  requested_by      text NOT NULL,
  query             jsonb NOT NULL,
  status            text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'done', 'failed')),
  row_count         bigint,
  sha256            text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------
-- Indexes for the compliance queries
-- ---------------------------------------------------------------------------------

CREATE INDEX IF NOT EXISTS events_event_id_idx ON events USING hash (event_id);
CREATE INDEX IF NOT EXISTS events_sender_ts_idx ON events (sender, origin_server_ts);
CREATE INDEX IF NOT EXISTS events_room_ts_idx ON events (room_id, origin_server_ts);
CREATE INDEX IF NOT EXISTS events_redacts_idx ON events (redacts) WHERE redacts IS NOT NULL;
CREATE INDEX IF NOT EXISTS event_search_tsv_idx ON event_search USING gin (tsv);
CREATE INDEX IF NOT EXISTS event_relations_target_idx ON event_relations (relates_to_id, rel_type);
CREATE INDEX IF NOT EXISTS redactions_redacts_idx ON redactions (redacts);
CREATE INDEX IF NOT EXISTS membership_history_user_idx ON membership_history (user_id, room_id);
CREATE INDEX IF NOT EXISTS membership_history_event_idx ON membership_history (event_id);
CREATE INDEX IF NOT EXISTS state_events_event_idx ON state_events (event_id);
CREATE INDEX IF NOT EXISTS user_threepids_user_idx ON user_threepids (user_id);
CREATE INDEX IF NOT EXISTS room_memberships_user_idx ON room_memberships (user_id, membership);
CREATE INDEX IF NOT EXISTS access_tokens_user_idx ON access_tokens (user_id, device_id);
CREATE INDEX IF NOT EXISTS room_aliases_room_idx ON room_aliases (room_id);
CREATE INDEX IF NOT EXISTS receipts_event_idx ON receipts (event_id);
CREATE INDEX IF NOT EXISTS room_forgotten_room_idx ON room_forgotten (room_id);
CREATE INDEX IF NOT EXISTS event_reports_room_idx ON event_reports (room_id, created_at);
CREATE INDEX IF NOT EXISTS media_uploader_idx ON media (uploader, created_at);
CREATE INDEX IF NOT EXISTS legal_holds_user_idx ON legal_holds (user_id) WHERE released_at IS NULL;
CREATE INDEX IF NOT EXISTS legal_holds_room_idx ON legal_holds (room_id) WHERE released_at IS NULL;
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor, at);

-- ---------------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------------

-- Events are immutable: an UPDATE may only set the redaction columns (once), and a
-- DELETE needs the session setting nebu.allow_purge = 'on' (retention purges).
CREATE FUNCTION events_guard() RETURNS trigger
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

CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_guard();

-- The audit log is append-only.
CREATE FUNCTION audit_log_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

CREATE TRIGGER nodes_updated_at BEFORE UPDATE ON nodes
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER user_passwords_updated_at BEFORE UPDATE ON user_passwords
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER profiles_updated_at BEFORE UPDATE ON profiles
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER devices_updated_at BEFORE UPDATE ON devices
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER device_keys_updated_at BEFORE UPDATE ON device_keys
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER cross_signing_keys_updated_at BEFORE UPDATE ON cross_signing_keys
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER push_rules_updated_at BEFORE UPDATE ON push_rules
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER account_data_updated_at BEFORE UPDATE ON account_data
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER rooms_updated_at BEFORE UPDATE ON rooms
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER room_directory_updated_at BEFORE UPDATE ON room_directory
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER current_state_updated_at BEFORE UPDATE ON current_state
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER room_memberships_updated_at BEFORE UPDATE ON room_memberships
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER retention_policies_updated_at BEFORE UPDATE ON retention_policies
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER compliance_exports_updated_at BEFORE UPDATE ON compliance_exports
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER checkpoints_updated_at BEFORE UPDATE ON nebu_projection_checkpoints
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------
-- Compliance helpers (docs/compliance.md)
-- ---------------------------------------------------------------------------------

-- The messages (m.room.message, m.room.encrypted, m.sticker) a user sent in
-- [p_from, p_to), every room, oldest first.
CREATE FUNCTION compliance_user_messages(p_user_id text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (room_id text, event_id text, sent_at timestamptz, type text, body text,
               content jsonb, redacted_by text)
LANGUAGE sql STABLE AS $$
  SELECT e.room_id, e.event_id, nebu_ms_to_timestamptz(e.origin_server_ts), e.type,
         e.content ->> 'body', e.content, e.redacted_by
    FROM events e
   WHERE e.sender = p_user_id
     AND e.type IN ('m.room.message', 'm.room.encrypted', 'm.sticker')
     AND e.state_key IS NULL
     AND e.origin_server_ts >= (extract(epoch FROM p_from) * 1000)::bigint
     AND e.origin_server_ts < (extract(epoch FROM p_to) * 1000)::bigint
   ORDER BY e.origin_server_ts, e.stream_position
$$;

-- A room's full history in log order, with each event's latest edit (m.replace)
-- and its redaction, if any.
CREATE FUNCTION compliance_room_history(p_room_id text)
RETURNS TABLE (sequence bigint, event_id text, sender text, sent_at timestamptz, type text,
               state_key text, content jsonb, edited_content jsonb, edited_by_event text,
               redacted_by text, redacted_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT e.sequence, e.event_id, e.sender, nebu_ms_to_timestamptz(e.origin_server_ts),
         e.type, e.state_key, e.content,
         edit.content -> 'm.new_content', edit.event_id,
         e.redacted_by, nebu_ms_to_timestamptz(e.redacted_at_ts)
    FROM events e
    LEFT JOIN LATERAL (
      SELECT x.event_id, x.content
        FROM event_relations r JOIN events x ON x.event_id = r.event_id
       WHERE r.relates_to_id = e.event_id AND r.rel_type = 'm.replace'
         AND x.sender = e.sender
       ORDER BY x.stream_position DESC
       LIMIT 1) edit ON true
   WHERE e.room_id = p_room_id
   ORDER BY e.sequence
$$;

-- Who was a member (membership = 'join') of a room at a moment.
CREATE FUNCTION compliance_room_members_at(p_room_id text, p_at timestamptz)
RETURNS TABLE (user_id text, membership text, since timestamptz, event_id text)
LANGUAGE sql STABLE AS $$
  SELECT h.user_id, h.membership, nebu_ms_to_timestamptz(h.origin_server_ts), h.event_id
    FROM (SELECT DISTINCT ON (m.user_id) m.*
            FROM membership_history m
           WHERE m.room_id = p_room_id
             AND m.origin_server_ts <= (extract(epoch FROM p_at) * 1000)::bigint
           ORDER BY m.user_id, m.sequence DESC) h
   WHERE h.membership = 'join'
   ORDER BY h.user_id
$$;

-- Full-text search over message bodies ('simple' configuration: no stemming).
CREATE FUNCTION compliance_search_messages(p_query text)
RETURNS TABLE (room_id text, event_id text, sender text, sent_at timestamptz, body text)
LANGUAGE sql STABLE AS $$
  SELECT e.room_id, e.event_id, e.sender, nebu_ms_to_timestamptz(e.origin_server_ts),
         e.content ->> 'body'
    FROM event_search s
    JOIN events e USING (stream_position)
   WHERE s.tsv @@ plainto_tsquery('simple', p_query)
   ORDER BY e.origin_server_ts
$$;

-- ---------------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------------
-- The owner (the runtime role) bypasses RLS on its own tables. Every other role, an
-- auditor with SELECT on all tables included, sees no row of the secret tables, and
-- reads (never writes) events and the audit log.

-- True for the role that owns the projection (the runtime role that ran this
-- migration) and roles it is a member of; the row-level-security policies on secret
-- tables use it, so an auditor granted SELECT still sees none of their rows.
CREATE FUNCTION nebu_is_app_role() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT pg_has_role(current_user,
                     (SELECT c.relowner FROM pg_class c
                       WHERE c.oid = 'nebu_projection_checkpoints'::regclass),
                     'MEMBER')
$$;

ALTER TABLE user_passwords ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_passwords_app_only ON user_passwords USING (nebu_is_app_role());

ALTER TABLE access_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY access_tokens_app_only ON access_tokens USING (nebu_is_app_role());

ALTER TABLE device_key_material ENABLE ROW LEVEL SECURITY;
CREATE POLICY device_key_material_app_only ON device_key_material USING (nebu_is_app_role());

ALTER TABLE cross_signing_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY cross_signing_keys_app_only ON cross_signing_keys USING (nebu_is_app_role());

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_read ON events FOR SELECT USING (true);
CREATE POLICY events_app_write ON events FOR ALL USING (nebu_is_app_role())
  WITH CHECK (nebu_is_app_role());

ALTER TABLE event_search ENABLE ROW LEVEL SECURITY;
CREATE POLICY event_search_read ON event_search FOR SELECT USING (true);
CREATE POLICY event_search_app_write ON event_search FOR ALL USING (nebu_is_app_role())
  WITH CHECK (nebu_is_app_role());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT USING (true);
CREATE POLICY audit_log_app_insert ON audit_log FOR INSERT WITH CHECK (nebu_is_app_role());

-- Account data that holds secrets (Client-Server API § Secrets, § Server-side key
-- backups, § Cross-signing): the secret-storage keys (m.secret_storage.*), the
-- private cross-signing keys (m.cross_signing.*), the key-backup key
-- (m.megolm_backup.*), and any other secret a client keeps in secret storage, which
-- the spec stores as account data whose content has an `encrypted` map (any content
-- with a top-level "encrypted" key is hidden). Only the app
-- role reads those rows; the rest of account_data stays readable. The expression is
-- in the policy itself: its names are bound when the policy is created, so no caller's
-- search_path can change what it calls.
ALTER TABLE account_data ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_data_read ON account_data FOR SELECT USING (
  nebu_is_app_role() OR NOT (
    starts_with(type, 'm.secret_storage.') OR starts_with(type, 'm.cross_signing.') OR
    starts_with(type, 'm.megolm_backup.') OR content ? 'encrypted'));
CREATE POLICY account_data_app_write ON account_data FOR ALL USING (nebu_is_app_role())
  WITH CHECK (nebu_is_app_role());

-- ---------------------------------------------------------------------------------
-- Every function of this schema but the two hot ones above (which qualify their
-- names) runs with search_path = pg_catalog, <this schema>, pg_temp: pg_catalog
-- first, so no caller-created pg_has_role or operator shadows the built-in one, and
-- pg_temp last, so no temporary table shadows nebu_projection_checkpoints.
-- ---------------------------------------------------------------------------------
DO $$
DECLARE
  f pg_catalog.regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::pg_catalog.regprocedure
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = pg_catalog.current_schema()
       AND p.proname NOT IN ('set_updated_at', 'nebu_ms_to_timestamptz')
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              f, pg_catalog.current_schema());
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------
-- The projector's streams start at position 0.
-- ---------------------------------------------------------------------------------
INSERT INTO nebu_projection_checkpoints (stream) VALUES ('stream'), ('search');
