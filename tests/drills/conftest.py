from tests.service_fixtures import _passwords_the_services_can_check, services  # noqa: F401  (fixtures)
