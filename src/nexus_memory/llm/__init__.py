"""The optional LLM layer: provider adapters, a fallback chain, tolerant JSON parsing and a token ledger."""
