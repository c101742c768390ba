"""Request parsers. Kept apart from config.api: DRF imports its parser classes while
rest_framework.views is still loading, so this module must not import the views."""

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that a body nested too deeply to decode is a parse error.

    Python's decoder raises RecursionError, not ValueError, past ~1,000 levels,
    which DRF lets through as a 500; a few kilobytes of "[" are enough.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None
