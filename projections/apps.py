from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    verbose_name = "Projections"

    def ready(self):
        from commands.signals import events_recorded
        from projections.tasks import wake_all

        events_recorded.connect(wake_all, dispatch_uid="projections.wake_all")
