import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

import config.urls  # noqa: E402, F401  load views, DRF and pydantic before freezing

# Everything loaded so far lives as long as the process; freezing it keeps full collections
# from rescanning it (measured: web CPU per 1,000 ingested orders 34-37 ms -> 27-32 ms).
gc.freeze()
