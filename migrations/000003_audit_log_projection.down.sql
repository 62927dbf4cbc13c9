-- nebu: undoes 000003_audit_log_projection.up.sql: the audit log goes back to 000001's
-- shape (its projected records are dropped; the log still holds them).

DROP INDEX IF EXISTS users_created_ts_idx;
DROP TABLE IF EXISTS audit_log;

CREATE TABLE audit_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  actor           text NOT NULL,
  action          text NOT NULL,
  target          text,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor, at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT USING (true);
CREATE POLICY audit_log_app_insert ON audit_log FOR INSERT WITH CHECK (nebu_is_app_role());
