"""The portal's own settings (production, from the bench's environment) with the bench's URLconf, which
adds the floor view. Only `make bench` uses this module; production never sees /bench/floor/."""

from portal.settings import *  # noqa: F403
from portal.settings import VAR_DIR

ROOT_URLCONF = "bench.urls"
# collectstatic for the production storage goes here, not into the checkout's staticfiles/.
STATIC_ROOT = VAR_DIR / "bench" / "static"
