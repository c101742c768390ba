"""Cursors for the hot statements the ORM does not write: the event log's append, the projections' row reads.

Django's psycopg cursors bind parameters on the client: every execution sends
the whole statement text, which PostgreSQL parses and plans again. A cursor
that binds on the server lets psycopg prepare a statement it has run a few
times (prepare_threshold) and from then on send only its parameters; for the
append, a statement of several CTEs, that halves the server's part of it. The
cursor still goes through Django's wrapper, so query logging, execute
wrappers and the tests that count queries see it as any other.
"""

from __future__ import annotations

import psycopg


def server_bound_cursor(connection):
    """A Django cursor on `connection` (PostgreSQL, connected) whose parameters PostgreSQL binds."""
    # _prepare_cursor is how connection.cursor() wraps the cursor it creates: the same wrapper for ours.
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))
