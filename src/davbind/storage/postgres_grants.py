"""Schema migration 3 of the PostgreSQL metadata store: ownership, grants and quotas
(``storage.grants``), kept by the same rules as the SQLite store's triggers
(``sqlite.OWNERSHIP_TRIGGERS``): usage follows every change of a size or an owner, a
change taking a user over their quota fails, and a resource's grants go with it."""

from __future__ import annotations

from davbind.storage.grants import OWNERS_FROM_HOMES, QUOTA_MESSAGE

GRANTS_MIGRATION = f"""
ALTER TABLE resources ADD COLUMN owner text COLLATE "C";
CREATE TABLE grants(
  key bigint NOT NULL, principal text COLLATE "C" NOT NULL, privs integer NOT NULL,
  PRIMARY KEY(key, principal));
CREATE INDEX grants_principal ON grants(principal);
CREATE TABLE quotas(name text COLLATE "C" PRIMARY KEY, bytes bigint NOT NULL);
CREATE TABLE usage(name text COLLATE "C" PRIMARY KEY, bytes bigint NOT NULL);
CREATE FUNCTION davbind_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.owner IS NOT NULL AND OLD.size <> 0 THEN
    UPDATE usage SET bytes = bytes - OLD.size WHERE name = OLD.owner;
  END IF;
  IF TG_OP = 'DELETE' THEN
    DELETE FROM grants WHERE key = OLD.key;
  ELSIF NEW.owner IS NOT NULL AND NEW.size <> 0 THEN
    INSERT INTO usage(name, bytes) VALUES (NEW.owner, NEW.size)
      ON CONFLICT (name) DO UPDATE SET bytes = usage.bytes + EXCLUDED.bytes;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER resources_usage AFTER INSERT OR DELETE OR UPDATE OF size, owner
  ON resources FOR EACH ROW EXECUTE FUNCTION davbind_usage();
CREATE FUNCTION davbind_quota() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP = 'INSERT' OR NEW.bytes > OLD.bytes)
     AND NEW.bytes > (SELECT bytes FROM quotas WHERE name = NEW.name) THEN
    RAISE EXCEPTION '{QUOTA_MESSAGE}' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER usage_quota AFTER INSERT OR UPDATE OF bytes ON usage
  FOR EACH ROW EXECUTE FUNCTION davbind_quota();
{OWNERS_FROM_HOMES};
"""
"""Migration 3 (``postgres_schema.MIGRATIONS``)."""


def grants_migration() -> str:
    return GRANTS_MIGRATION
