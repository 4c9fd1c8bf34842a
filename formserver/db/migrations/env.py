"""Alembic environment. Migrations run through `formserver.db.migrate.upgrade()`, which hands us a connection
(on SQLite with foreign keys off, so batch migrations that copy a table cannot cascade-delete rows)."""

from alembic import context

from formserver.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations with `flask --app formserver db-upgrade`, not the alembic command.")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
