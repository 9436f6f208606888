"""Names the HTTP surface and its clients (the hooks' loopback client) share."""

from __future__ import annotations

#: The HTTP header naming a store (Settings.store_id): the one a search is meant for, the one it came from.
STORE_HEADER = "X-Nexus-Store"
