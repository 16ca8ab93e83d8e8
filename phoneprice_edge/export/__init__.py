"""Exporters: one module per target; files in (checkpoint, schema, data), files out (artifact + manifest)."""
