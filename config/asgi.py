"""The ASGI entry point, which scripts/serve runs under gunicorn with uvicorn workers.

Under ASGI a request waiting for a read position (queries.waiting) waits in the
event loop, holding no thread; the synchronous views run in Django's thread
pool as its async documentation describes.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
