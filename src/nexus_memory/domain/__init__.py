"""Pure domain: types, enums and rules. No I/O, no third-party imports."""
