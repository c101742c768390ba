from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "bench.baseline_app"
    label = "bench_baseline"
    verbose_name = "Benchmark baselines"
