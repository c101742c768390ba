"""Process managers: followers of the event log that react to events by issuing commands.

payment_timeout.py cancels orders left unpaid; low_stock.py warns catalog managers once per fall below the
threshold. issuing.py is the only way they dispatch a command: as the system actor, with an id derived from
the triggering event's position, recorded in the write database with the command's events, so that no
re-run, crash or second worker issues it twice.

This package is a Django app of its own (label `process_managers`) so that its one table, the ledger of
issued commands, lives on `default` with the events; the managers' own state lives on `read` with their
checkpoints (projections.models).
"""
