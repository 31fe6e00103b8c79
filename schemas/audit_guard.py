"""The database's own refusal to rewrite the audit trail: triggers on SQLite and PostgreSQL, and the grants of a
PostgreSQL role that can use tkitrack but has no right to update, delete or truncate the trail.

``audit_log`` takes INSERT only. ``audit_head`` (one row: the newest entry's position and hash) takes an UPDATE
only when it moves forward to the newest entry actually in ``audit_log``: ``NEW.seq > OLD.seq``,
``NEW.seq = max(audit_log.seq)`` and ``NEW.hash`` = that entry's hash. So the head cannot be rolled back after
entries were removed, nor pointed at a forged hash; DELETE of the head is refused. A database owner can drop the
triggers; what they then change is found by ``tkitrack audit verify`` (chain, replay against the tables, and the
anchors published outside the database), see docs/audit.md.
"""

from __future__ import annotations

__all__ = [
    "BATCH_TRIGGERS",
    "TRIGGERS",
    "batch_guard_statements",
    "batch_unguard_statements",
    "guard_statements",
    "unguard_statements",
    "writer_role_statements",
]

#: Trigger names per table (the tests and docs/audit.md refer to them).
TRIGGERS = {
    "audit_log": ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate"),
    "audit_head": ("audit_head_forward_only", "audit_head_no_delete", "audit_head_no_truncate"),
}
_REFUSED = "the audit trail is append-only"

_SQLITE = [
    f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, '{_REFUSED}: UPDATE of audit_log refused'); END""",
    f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE from audit_log refused'); END""",
    f"""CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NOT (NEW.id = OLD.id AND NEW.seq > OLD.seq
          AND NEW.seq = (SELECT max(seq) FROM audit_log)
          AND NEW.hash = (SELECT hash FROM audit_log WHERE seq = NEW.seq))
BEGIN SELECT RAISE(ABORT, '{_REFUSED}: audit_head moves only forward, to the newest entry of audit_log'); END""",
    f"""CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE from audit_head refused'); END""",
]

_POSTGRES = [
    f"""CREATE FUNCTION tkitrack_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{_REFUSED}: % of % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$""",
    f"""CREATE FUNCTION tkitrack_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = OLD.id AND NEW.seq > OLD.seq
       AND NEW.seq = (SELECT max(seq) FROM audit_log)
       AND NEW.hash = (SELECT hash FROM audit_log WHERE seq = NEW.seq) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{_REFUSED}: audit_head moves only forward, to the newest entry of audit_log'
        USING ERRCODE = 'insufficient_privilege';
END $$""",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION tkitrack_audit_refuse()",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION tkitrack_audit_refuse()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION tkitrack_audit_refuse()",
    "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION tkitrack_audit_head_forward()",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head FOR EACH ROW EXECUTE FUNCTION tkitrack_audit_refuse()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION tkitrack_audit_refuse()",
]


#: The same refusal on ``audit_batch_row`` (the records of the batch entries; migration 0008).
BATCH_TRIGGERS = ("audit_batch_row_no_update", "audit_batch_row_no_delete", "audit_batch_row_no_truncate")

_SQLITE_BATCH = [
    f"""CREATE TRIGGER audit_batch_row_no_update BEFORE UPDATE ON audit_batch_row
BEGIN SELECT RAISE(ABORT, '{_REFUSED}: UPDATE of audit_batch_row refused'); END""",
    f"""CREATE TRIGGER audit_batch_row_no_delete BEFORE DELETE ON audit_batch_row
BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE from audit_batch_row refused'); END""",
]
_POSTGRES_BATCH = [
    "CREATE TRIGGER audit_batch_row_no_update BEFORE UPDATE ON audit_batch_row "
    "FOR EACH ROW EXECUTE FUNCTION tkitrack_audit_refuse()",
    "CREATE TRIGGER audit_batch_row_no_delete BEFORE DELETE ON audit_batch_row "
    "FOR EACH ROW EXECUTE FUNCTION tkitrack_audit_refuse()",
    "CREATE TRIGGER audit_batch_row_no_truncate BEFORE TRUNCATE ON audit_batch_row "
    "FOR EACH STATEMENT EXECUTE FUNCTION tkitrack_audit_refuse()",
]


def batch_guard_statements(dialect: str) -> list[str]:
    """The SQL that makes ``audit_batch_row`` append-only on ``dialect`` (uses 0006's refusal function)."""
    return {"sqlite": _SQLITE_BATCH, "postgresql": _POSTGRES_BATCH}.get(dialect, [])


def batch_unguard_statements(dialect: str) -> list[str]:
    """The SQL that removes them again (migration 0008's downgrade)."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in BATCH_TRIGGERS[:2]]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON audit_batch_row" for name in BATCH_TRIGGERS]
    return []


def guard_statements(dialect: str) -> list[str]:
    """The SQL that installs the triggers on ``dialect`` (sqlite or postgresql; other databases get none)."""
    return {"sqlite": _SQLITE, "postgresql": _POSTGRES}.get(dialect, [])


def unguard_statements(dialect: str) -> list[str]:
    """The SQL that removes them again, those of ``audit_batch_row`` first where they exist (migration 0006's
    downgrade; what a database owner can do)."""
    batch = batch_unguard_statements(dialect)
    if dialect == "sqlite":
        return [*batch, *[f"DROP TRIGGER IF EXISTS {name}" for names in TRIGGERS.values() for name in names[:2]]]
    if dialect == "postgresql":
        drops = [f"DROP TRIGGER IF EXISTS {name} ON {table}" for table, names in TRIGGERS.items() for name in names]
        return [*batch, *drops, "DROP FUNCTION IF EXISTS tkitrack_audit_head_forward()",
                "DROP FUNCTION IF EXISTS tkitrack_audit_refuse()"]  # fmt: skip
    return []


def writer_role_statements(role: str, schema: str = "public") -> list[str]:
    """GRANTs for a PostgreSQL role that runs tkitrack without the right to rewrite the trail (docs/audit.md).

    The role is not the owner of the tables (an owner could drop the triggers): it may read and write the record
    and account tables, INSERT into ``audit_log`` and ``audit_batch_row`` (no UPDATE, DELETE or TRUNCATE), and
    UPDATE ``audit_head``
    (which the trigger lets move forward only). Schema changes (``tkitrack init`` / ``db upgrade``) stay with the
    owner.
    """
    if not role.replace("_", "").isalnum() or not schema.replace("_", "").isalnum():
        raise ValueError(f"role and schema must be plain names, got {role!r} and {schema!r}")
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.audit_log FROM {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.audit_batch_row FROM {role}",
        f"REVOKE DELETE, TRUNCATE ON {schema}.audit_head FROM {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.alembic_version FROM {role}",
    ]
