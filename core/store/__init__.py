"""The results database: the only package that talks to DuckDB."""

from core.store.connection import connect
from core.store.schema import CELL_KEY, SCHEMA_VERSION, migrate, schema_version

__all__ = ["CELL_KEY", "SCHEMA_VERSION", "connect", "migrate", "schema_version"]
