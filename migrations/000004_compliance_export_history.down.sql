-- nebu: undoes 000004_compliance_export_history.up.sql.

DROP TRIGGER IF EXISTS profiles_history ON profiles;
DROP FUNCTION IF EXISTS profile_history_record();
DROP TABLE IF EXISTS profile_history;
DROP TABLE IF EXISTS account_data_history;
