-- nebu: the audit log of the admin and compliance APIs (issue 12), projected from the
-- log, and an index for the admin API's user list.
--
-- audit_log holds every field of an audit record (engine/admin/admin.h, AuditRecord):
--   seq      the record's sequence number in the log (dense from 1): the key, so
--            projecting a record again changes nothing (INSERT ... ON CONFLICT DO NOTHING)
--   ts       when the call was made (Matrix ms since the epoch); `at` is the same time
--            as timestamptz, for SQL readers
--   actor    the calling user ID, or "cli:<name>" for the command line
--   action   the route's name, e.g. "users.put", "rooms.block"
--   target   the user, room, report, token ... the call names ('' when none)
--   params   the path, query and top-level body fields, never secrets (passwords,
--            tokens, UIA); {"truncated": true} when they were over 8 KiB
--   outcome  "ok" or the Matrix errcode answered
--   status   the HTTP status answered
-- The projector writes it (projections/audit_projection.h); nothing else does. It stays
-- append-only (the trigger of 000001) and readable by every role granted SELECT (an
-- auditor: docs/compliance.md), writable only by the owner (row-level security).
--
-- 000001's audit_log (identity id, details) was never written by nebu: it is replaced.

DROP TABLE IF EXISTS audit_log;

CREATE TABLE audit_log (
  seq             bigint PRIMARY KEY CHECK (seq >= 1),
  ts              bigint NOT NULL CHECK (ts >= 0),
  at              timestamptz GENERATED ALWAYS AS (nebu_ms_to_timestamptz(ts)) STORED,
  actor           text NOT NULL,
  action          text NOT NULL,
  target          text NOT NULL DEFAULT '',
  params          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(params) = 'object'),
  outcome         text NOT NULL,
  status          integer NOT NULL
);

CREATE INDEX audit_log_actor_idx ON audit_log (actor, ts);
CREATE INDEX audit_log_action_idx ON audit_log (action, ts);
CREATE INDEX audit_log_target_idx ON audit_log (target, ts) WHERE target <> '';
CREATE INDEX audit_log_ts_idx ON audit_log (ts);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT USING (true);
CREATE POLICY audit_log_app_insert ON audit_log FOR INSERT WITH CHECK (nebu_is_app_role());

-- GET /_synapse/admin/v2/users?order_by=creation_ts (Synapse indexes name and
-- creation_ts; name is the primary key).
CREATE INDEX IF NOT EXISTS users_created_ts_idx ON users (created_ts);
