"""Services: the one in-process API every surface calls."""
