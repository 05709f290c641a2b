"""Alembic migrations of the storage schema (run by ``fullon-account db upgrade``)."""
