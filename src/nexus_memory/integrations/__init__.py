"""Agent tool integrations: installing hooks into each tool, and the hook path they run."""
