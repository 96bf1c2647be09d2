"""Shared helpers that import no project app: errors, secrets at rest, client addresses, the
not-found page, rate limits and language negotiation."""
