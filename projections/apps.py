from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProjectionsConfig(AppConfig):
    name = "projections"
    verbose_name = "Projections"

    def ready(self):
        from commands.admin.eventlog import show_stream_states
        from commands.signals import events_recorded
        from core.health import register_check
        from core.metrics import register_collector
        from projections.health import FOLLOWER_COLLECTOR, followers_check
        from projections.history import states_by_position
        from projections.tasks import wake_all
        from projections.versions import upgrade_after_migrate

        events_recorded.connect(wake_all, dispatch_uid="projections.wake_all")
        post_migrate.connect(upgrade_after_migrate, dispatch_uid="projections.upgrade_after_migrate")
        register_check(followers_check)
        register_collector(FOLLOWER_COLLECTOR)
        show_stream_states(states_by_position)
