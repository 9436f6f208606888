"""The `nexus` command line. Each command module exposes `register(subparsers, common)`."""
