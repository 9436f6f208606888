"""Storage ports and adapters. Import adapters lazily: `nexus_memory.storage.sqlite`."""
