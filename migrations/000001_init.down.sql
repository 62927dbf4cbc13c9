-- nebu: undoes 000001_init.up.sql. Drops every table, function and policy it created,
-- in reverse dependency order (policies and triggers go with their tables). Extensions
-- are never dropped: they may be shared at the server level (000001 creates none).

DROP FUNCTION IF EXISTS compliance_search_messages(text);
DROP FUNCTION IF EXISTS compliance_room_members_at(text, timestamptz);
DROP FUNCTION IF EXISTS compliance_room_history(text);
DROP FUNCTION IF EXISTS compliance_user_messages(text, timestamptz, timestamptz);

DROP TABLE IF EXISTS compliance_exports;
DROP TABLE IF EXISTS legal_holds;
DROP TABLE IF EXISTS retention_policies;
DROP TABLE IF EXISTS event_reports;
DROP TABLE IF EXISTS media;
DROP TABLE IF EXISTS receipts;
DROP TABLE IF EXISTS room_forgotten;
DROP TABLE IF EXISTS room_memberships;
DROP TABLE IF EXISTS membership_history;
DROP TABLE IF EXISTS current_state;
DROP TABLE IF EXISTS state_events;
DROP TABLE IF EXISTS redactions;
DROP TABLE IF EXISTS event_relations;
DROP TABLE IF EXISTS event_search;
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS room_directory;
DROP TABLE IF EXISTS room_aliases;
DROP TABLE IF EXISTS rooms;
DROP TABLE IF EXISTS account_data;
DROP TABLE IF EXISTS push_rules;
DROP TABLE IF EXISTS cross_signing_keys;
DROP TABLE IF EXISTS device_key_material;
DROP TABLE IF EXISTS device_keys;
DROP TABLE IF EXISTS access_tokens;
DROP TABLE IF EXISTS devices;
DROP TABLE IF EXISTS profiles;
DROP TABLE IF EXISTS user_threepids;
DROP TABLE IF EXISTS user_passwords;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS nodes;

DROP FUNCTION IF EXISTS audit_log_guard();
DROP FUNCTION IF EXISTS events_guard();
DROP FUNCTION IF EXISTS nebu_ms_to_timestamptz(bigint);
DROP FUNCTION IF EXISTS nebu_is_app_role();
DROP TABLE IF EXISTS nebu_projection_checkpoints;
DROP FUNCTION IF EXISTS set_updated_at();
