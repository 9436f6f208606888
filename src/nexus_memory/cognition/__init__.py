"""Cognition: the job engine and the dream-cycle stages (distill, derive, digest, reflect), the working
representation, hot cache, context.md, soul and activity monitor."""
