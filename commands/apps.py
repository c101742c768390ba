from django.apps import AppConfig


class CommandsConfig(AppConfig):
    name = "commands"
    verbose_name = "Commands (write side)"

    def ready(self):
        from commands.health import event_log_check
        from core.health import register_check

        register_check(event_log_check)
