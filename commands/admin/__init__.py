"""The write side in the admin: aggregates and the event log to look at, commands as admin actions.

Nothing here saves a model. Every change is an admin action that dispatches
a command with the operator as actor, row by row, and reports each row's
outcome: done, or the rule that refused it (DomainError.code and message).
An action needs the model's change permission ("may change it through
commands"; the admin's own forms stay read-only), or, for products, the
catalog managers' commands.manage_catalog. Each attempt is audited.
"""

from commands.admin import aggregates, eventlog, inbox

__all__ = ["aggregates", "eventlog", "inbox"]
