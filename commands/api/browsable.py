"""The browsable API's page for a command: a form that can send it.

DRF's HTML form cannot express a list ("Lists are not currently supported in
HTML input"), so a command whose input holds one (PlaceOrder's lines) shows
only the raw-data form, filled with the view's example body: a request that
would succeed as it stands. Nothing here changes what the command accepts.
"""

import json

from rest_framework import serializers
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.utils.encoders import JSONEncoder

# The field kinds DRF's HTML form renders as "not currently supported".
_NOT_IN_HTML_FORMS = (serializers.ListField, serializers.ListSerializer, serializers.DictField)


def html_form_can_express(serializer: serializers.Serializer) -> bool:
    """Whether every input field of `serializer`, nested ones included, has an HTML form widget."""
    for field in serializer.fields.values():
        if field.read_only:
            continue
        if isinstance(field, _NOT_IN_HTML_FORMS):
            return False
        if isinstance(field, serializers.Serializer) and not html_form_can_express(field):
            return False
    return True


class CommandRenderer(BrowsableAPIRenderer):
    def get_rendered_html_form(self, data, view, method, request):
        if method == "POST" and not html_form_can_express(view.get_serializer()):
            return None  # the page then offers the raw-data form alone, instead of a form that cannot be sent
        return super().get_rendered_html_form(data, view, method, request)

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        example = view.example_body() if form is not None and method == "POST" else None
        if example is not None:
            form.fields["_content"].initial = json.dumps(example, cls=JSONEncoder, indent=4)
        return form
