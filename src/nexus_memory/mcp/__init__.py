"""The MCP server surface: tools, resources and prompts over the official SDK (imported lazily)."""
