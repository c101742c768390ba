"""The platform the apps build on: database routing, replicas, metrics instruments, health checks,
admin base classes, parsers, throttles, middleware, logging.

It never imports an app (commands, projections, queries): apps register what they add
(health checks, metrics collectors) from their AppConfig.ready(). config/ composes it all.
"""
