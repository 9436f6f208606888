"""Moving memories in and out: the Nexus export format, backend migration, upstream and
foreign importers (docs/export-format.md)."""
