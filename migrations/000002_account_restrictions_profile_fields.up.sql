-- nebu: the account state issue 9 added to the engine, now in the projection.
--   users.locked, users.suspended: PUT /_synapse/admin/v1/... lock and suspend (the
--     engine's restrict_user command); a locked user's tokens are refused, a
--     suspended user may read but not write.
--   profiles.fields: the extended profile fields (PUT /profile/{userId}/{keyName}),
--     every key but displayname and avatar_url, as one JSON object ({} when none).
-- Written by the accounts snapshot (projections/accounts_snapshot.h) like the columns
-- beside them; rows projected before this migration get the defaults until the next
-- snapshot rewrites them.

ALTER TABLE users ADD COLUMN IF NOT EXISTS locked boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN IF NOT EXISTS suspended boolean NOT NULL DEFAULT false;
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS fields jsonb NOT NULL DEFAULT '{}'::jsonb
  CHECK (jsonb_typeof(fields) = 'object');
