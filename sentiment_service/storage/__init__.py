"""Storage: the database schema (SQLModel tables), engine and Alembic migrations."""
