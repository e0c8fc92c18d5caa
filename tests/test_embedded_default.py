"""`make run`'s embedded default (SQLite, no server) end to end: migrate a fresh SQLite file,
bootstrap the demo shop (metrics, value model and dashboard figures included), and open every
operator page. The rest of the suite runs on PostgreSQL, so this is what keeps the SQL of the
pages and their precomputes working on SQLite too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PAGES = """
from django.contrib.auth import get_user_model
from django.test import Client
from customers.models import Customer, ValueModelFit
from segments.models import Segment

client = Client()
client.force_login(get_user_model().objects.get(username="operator"))
customer, segment = Customer.objects.first(), Segment.objects.first()
for url in ["/", "/?dimension=city", "/customers/", "/customers/?q=demo",
            f"/customers/{customer.external_id}/", "/segments/", f"/segments/{segment.pk}/",
            "/segments/new/", "/campaigns/", "/campaigns/new/", "/coupons/", "/messages/",
            "/messages/webhooks/", "/settings/", "/value-model/"]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
page = client.get("/").content.decode()
assert "Figures computed at" in page and 'data-island="charts"' in page, page[:2000]
assert ValueModelFit.objects.latest().scored == Customer.objects.count()
print("all pages 200")
"""


@pytest.fixture
def embedded(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DATA_DIR=str(tmp_path),
               DEBUG="1", ALLOWED_HOSTS="testserver,127.0.0.1")

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,  # noqa: S603
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    return manage


def test_the_embedded_default_runs_the_demo_shop_and_every_page(embedded):
    embedded("migrate", "--noinput")
    assert "Operator login: operator / " in embedded("bootstrap", "--demo-customers", "300")
    embedded("seed_demo_segments")  # the rest of what `make run` does before it starts

    assert "all pages 200" in embedded("shell", "-c", PAGES)
