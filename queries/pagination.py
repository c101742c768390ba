"""Pagination of query lists, with page sizes capped by QUERY_MAX_PAGE_SIZE.

Orders use a cursor, so that orders arriving while a client pages through
them never shift the pages it has not read yet; the other lists are small or
slow-changing and use page numbers. Malformed page numbers and cursors are a
400, pages past the end a 404; a malformed or excessive page size falls back
to the default or the cap.
"""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

from queries.filters import utc_datetime


class _CappedPageSize:
    page_size_query_param = "page_size"

    def get_page_size(self, request):
        """The requested page size up to QUERY_MAX_PAGE_SIZE, or QUERY_PAGE_SIZE if none or malformed."""
        requested = request.query_params.get(self.page_size_query_param, "")
        if requested.isascii() and requested.isdecimal() and 0 < len(requested) <= 9 and int(requested) > 0:
            return min(int(requested), settings.QUERY_MAX_PAGE_SIZE)
        return settings.QUERY_PAGE_SIZE


class PagePagination(_CappedPageSize, PageNumberPagination):
    def get_page_number(self, request, paginator):
        number = request.query_params.get(self.page_query_param) or "1"
        if number in self.last_page_strings:
            return paginator.num_pages
        if not (number.isascii() and number.isdecimal()):
            raise ValidationError({self.page_query_param: ["A page number is a positive integer or 'last'."]})
        return number


class OrderCursorPagination(_CappedPageSize, CursorPagination):
    """Cursor pages in the ordering the ordering filter gives (newest first by default).

    The filter completes every ordering with the order id, so each order has
    one place in the sequence, and a cursor is a place in it: an order placed
    later sorts before the first page and never moves the ones after it.
    """

    ordering = ("-placed_at", "-order_id")

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound as invalid:
            raise ValidationError({self.cursor_query_param: [invalid.detail]}) from invalid
        if cursor is None or cursor.position is None:
            return cursor
        return cursor._replace(position=self._position_value(cursor.position))

    def _position_value(self, position: str):
        """The cursor's position as a value of the ordering's first field; a 400 if it is not one."""
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            value = field.clean(position, None)  # the field's own validators: digits, NaN, format
            if field.get_internal_type() == "DateTimeField":
                value = utc_datetime(value)
        except (DjangoValidationError, TypeError, ValueError, ArithmeticError) as invalid:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from invalid
        return value
