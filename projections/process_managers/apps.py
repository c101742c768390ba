from django.apps import AppConfig


class ProcessManagersConfig(AppConfig):
    name = "projections.process_managers"
    label = "process_managers"
    verbose_name = "Process managers"
