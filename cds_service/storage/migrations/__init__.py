"""Alembic migrations for the service's tables; applied on start (``Database.create_schema``)."""
