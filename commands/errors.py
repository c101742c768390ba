"""Domain errors: each has a machine-readable `code` and the HTTP status it maps to.

config.api.exception_handler is the one place that turns them into responses.
"""

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    status = 409

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidCommand(DomainError):
    code = "invalid"
    status = 400

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("The command is invalid.", extra={"errors": errors})
        self.errors = errors


class NotFound(DomainError):
    status = 404


class ProductNotFound(NotFound):
    code = "product_not_found"


class OrderNotFound(NotFound):
    code = "order_not_found"


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class VersionConflict(DomainError):
    code = "version_conflict"


class InsufficientStock(DomainError):
    code = "insufficient_stock"


class ProductUnavailable(DomainError):
    code = "product_unavailable"


class OrderTooLarge(DomainError):
    code = "order_too_large"


class DuplicateSku(DomainError):
    code = "duplicate_sku"


class PriceUnchanged(DomainError):
    code = "price_unchanged"


class IllegalStatusChange(DomainError):
    code = "illegal_status_change"


class CustomerAlreadyRegistered(DomainError):
    code = "customer_already_registered"


class NotACustomer(DomainError):
    code = "not_a_customer"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
