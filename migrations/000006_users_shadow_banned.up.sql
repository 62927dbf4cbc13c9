-- nebu: users.shadow_banned, the account flag of POST /_synapse/admin/v1/users/{userId}/
-- shadow_ban (engine/accounts), so the admin user list (projections/admin_directory.h)
-- shows and sorts it. Written by the accounts snapshot like locked and suspended; rows
-- projected before this migration read false until the next snapshot rewrites them.

ALTER TABLE users ADD COLUMN IF NOT EXISTS shadow_banned boolean NOT NULL DEFAULT false;
