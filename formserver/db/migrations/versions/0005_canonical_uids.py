"""canonical submission ids: lower-case every stored UUID; report ids that differ only in case

Until now an upper-case submission id (iOS clients produce them) was stored as sent, so a retry that changed
the case made a second record. Ids are canonical (lower case) at every edge from now on; this migration
brings the stored ones to that form. Where two records' ids differ only in case, they are the same submission
stored twice: neither is changed here (which one to keep is a person's decision: delete the other with a
reason); each pair is logged now, and `flask --app formserver status` lists them until they are resolved.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 20:00:00
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

log = logging.getLogger("formserver.migrations")
TABLES = (("submissions", "uid"), ("drafts", "uid"), ("photos", "uid"), ("photos", "submission_uid"))


def upgrade() -> None:
    connection = op.get_bind()
    for table, column in TABLES:
        unique = column == "uid"
        rows = connection.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} <> lower({column})"))
        for row_id, uid in rows.fetchall():
            if unique:
                taken = connection.execute(sa.text(f"SELECT id FROM {table} WHERE {column} = :uid"),
                                           {"uid": uid.lower()}).scalar()
                if taken is not None:
                    log.warning("%s %s and %s have the same id in other cases (%s): the same submission stored "
                                "twice; delete one with a reason", table, row_id, taken, uid.lower())
                    continue
            connection.execute(sa.text(f"UPDATE {table} SET {column} = :canonical WHERE id = :id"),
                               {"canonical": uid.lower(), "id": row_id})


def downgrade() -> None:
    pass  # lower-case ids are valid ids for the earlier schema too
