-- nebu: undoes 000006_users_shadow_banned.up.sql.

ALTER TABLE users DROP COLUMN IF EXISTS shadow_banned;
