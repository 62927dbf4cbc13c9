-- nebu: undoes 000002_account_restrictions_profile_fields.up.sql.

ALTER TABLE profiles DROP COLUMN IF EXISTS fields;
ALTER TABLE users DROP COLUMN IF EXISTS suspended;
ALTER TABLE users DROP COLUMN IF EXISTS locked;
