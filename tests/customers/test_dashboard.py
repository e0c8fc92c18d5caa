"""The dashboard: figures precomputed by dashboard_figures_compute (hand-checked on the shop
of tests/customers/dashboard_shop.py), the page reading only those, roles, the empty state
and the breakdown switch; the precompute task is safe to repeat."""

import json
import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from customers.models import DashboardFigure
from customers.roles import Role, role_group
from customers.services.dashboard import dashboard_figures_compute
from customers.tasks import dashboard_compute_task
from tests.customers.dashboard_shop import NOW, make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(storefront):
    return make_shop(storefront)


@pytest.fixture
def figures(shop):
    dashboard_figures_compute(now=NOW)
    return {(f.key, f.dimension): f.value for f in DashboardFigure.objects.all()}


@pytest.fixture
def viewer(client):
    user = get_user_model().objects.create_user("viewer")
    user.groups.add(role_group(Role.VIEWER))
    client.force_login(user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def kpi(response, name: str) -> str:
    match = re.search(rf'data-kpi="{name}">.*?<dd>(.*?)</dd>', text(response), re.S)
    assert match, f"no KPI {name}"
    return match.group(1).strip()


def chart_option(response, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    assert match, f"no chart option {element_id}"
    return json.loads(match.group(1))


# --- the figures -----------------------------------------------------------------------------


def test_kpis_of_the_last_30_days(figures):
    assert figures[("kpis", "")] == {
        "days": 30, "customers": 5, "active_customers": 4, "paying_customers": 2,
        "revenue": "340.00", "orders": 3, "arpu": "85.00", "arppu": "170.00"}


def test_monthly_trend_for_all_customers(figures):
    trend = figures[("trend", "")]
    assert len(trend["months"]) == 12
    assert trend["months"][-2:] == ["2026-02", "2026-03"]
    [series] = trend["series"]
    assert series["revenue"][-2:] == ["1080.00", "340.00"]
    assert series["active"][-2:] == [2, 4]
    assert series["arpu"][-2:] == ["540.00", "85.00"]
    assert series["arppu"][-2:] == ["540.00", "170.00"]
    assert series["arpu"][0] is None  # nobody active: no ARPU, not zero


def test_monthly_trend_by_channel_ranks_values_by_revenue(figures):
    trend = figures[("trend", "acquisition_channel")]
    by_key = {row["key"]: row for row in trend["series"]}
    assert [row["key"] for row in trend["series"]] == ["ads", "organic", ""]
    assert by_key["ads"]["arpu"][-1] == "80.00"
    assert by_key["ads"]["arppu"][-1] == "160.00"
    assert by_key["organic"]["arpu"][-1] == "180.00"
    assert by_key[""]["arpu"][-1] == "0.00"
    assert by_key[""]["arppu"][-1] is None
    assert by_key["ads"]["arpu"][-2] == "1000.00"


def test_trend_by_city_and_age_band_are_stored_too(figures):
    cities = {row["key"] for row in figures[("trend", "city")]["series"]}
    assert cities == {"Shanghai", "Beijing", ""}
    assert [row["key"] for row in figures[("trend", "age_band")]["series"]] == [""]


def test_lifecycle_funnel_with_predicted_revenue(figures):
    stages = {row["stage"]: row for row in figures[("lifecycle", "")]["stages"]}
    assert list(stages) == ["prospect", "new", "active", "dormant", "churned"]
    assert stages["prospect"]["count"] == 1
    assert stages["active"]["count"] == 3
    assert stages["active"]["share"] == 0.75
    assert stages["active"]["predicted_revenue"] == "355.00"
    assert stages["prospect"]["predicted_revenue"] == "0.00"
    assert stages["prospect"]["predicted_customers"] == 0


def test_rfm_grid_counts_and_revenue_share(figures):
    classes = {row["rfm_class"]: row for row in figures[("rfm", "")]["classes"]}
    assert len(classes) == 8
    assert classes["important_value"]["count"] == 2
    assert classes["important_value"]["revenue"] == "1340.00"
    assert classes["important_value"]["revenue_share"] == 0.9926
    assert classes["general_winback"]["revenue_share"] == 0.0074
    assert classes["important_value"]["predicted_revenue"] == "350.00"
    assert classes["general_value"]["count"] == 0


def test_predicted_clv_histogram(figures):
    clv = figures[("clv", "")]
    assert [row["count"] for row in clv["bins"]] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert clv["bins"][1] == {"from": "31", "to": "62", "count": 1}
    assert clv["bins"][-1]["to"] is None
    assert clv["customers"] == 3
    assert clv["predicted_revenue"] == "355.00"


def test_top_campaigns_by_attributed_revenue(figures):
    rows = figures[("top_campaigns", "")]["campaigns"]
    assert [(row["name"], row["revenue"], row["orders"]) for row in rows] == [
        ("Win-back", "180.00", 1), ("Welcome", "60.00", 1)]


# --- the precompute is safe to repeat --------------------------------------------------------


def stored() -> list[tuple]:
    return sorted((f.key, f.dimension, f.period, json.dumps(f.value, sort_keys=True))
                  for f in DashboardFigure.objects.all())


def test_running_the_task_twice_gives_the_same_rows(shop):
    first_count = dashboard_compute_task()
    first = stored()
    second_count = dashboard_compute_task()
    assert first_count == second_count == len(first)
    assert stored() == first
    assert DashboardFigure.objects.count() == len(first)  # replaced, not added


def test_the_command_computes_the_figures(shop, capsys):
    from django.core.management import call_command

    call_command("compute_dashboard")
    assert DashboardFigure.objects.filter(key="kpis").exists()
    assert "dashboard figures stored" in capsys.readouterr().out


# --- the page --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_an_operator_without_a_role_is_refused(client, figures):
    client.force_login(get_user_model().objects.create_user("nobody"))
    assert client.get(reverse("dashboard")).status_code == 403


def test_empty_state_before_anything_is_computed(viewer, shop):
    response = viewer.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "Nothing computed yet." in text(response)
    assert "compute_dashboard" in text(response)


def test_page_shows_the_kpis_and_when_they_were_computed(viewer, figures):
    response = viewer.get(reverse("dashboard"))
    assert kpi(response, "customers") == "5"
    assert kpi(response, "active_customers") == "4"
    assert kpi(response, "arpu") == "85.00"
    assert kpi(response, "arppu") == "170.00"
    assert 'data-computed-at="2026-03-20T12:00:00+00:00"' in text(response)


def test_page_reads_only_the_stored_figures(viewer, figures, django_assert_max_num_queries):
    # session, user, groups, figures, RFM segment links (segments app): no scan of any table
    with django_assert_max_num_queries(6):
        assert viewer.get(reverse("dashboard")).status_code == 200


def test_rfm_cells_show_counts_and_link_to_their_class(viewer, figures):
    page = text(viewer.get(reverse("dashboard")))
    cell = re.search(r'<a class="rfm-cell" href="([^"]+)" data-rfm-class="important_value".*?'
                     r'rfm-count">(.*?)<.*?rfm-share">(.*?)<', page, re.S)
    assert cell.group(2) == "2"
    assert cell.group(3) == "99.3% of revenue"
    assert "important_value" in cell.group(1)


def test_charts_get_options_with_the_figures(viewer, figures):
    response = viewer.get(reverse("dashboard"))
    funnel = chart_option(response, "funnel-option")
    assert [d["value"] for d in funnel["series"][0]["data"]] == [1, 0, 3, 0, 0]
    arpu = chart_option(response, "arpu-option")
    assert arpu["series"][0]["data"][-2:] == [540.0, 85.0]
    assert chart_option(response, "clv-option")["series"][0]["data"][9] == 1


def test_breakdown_switch_returns_the_trend_for_htmx(viewer, figures):
    response = viewer.get(reverse("dashboard"), {"dimension": "acquisition_channel"},
                          headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<h1" not in text(response)  # only the partial
    arpu = chart_option(response, "arpu-option")
    assert [s["name"] for s in arpu["series"]] == ["ads", "organic", "(not set)"]
    assert arpu["series"][0]["data"][-1] == 80.0


def test_htmx_restoring_a_breakdown_gets_the_whole_page(viewer, figures):
    response = viewer.get(reverse("dashboard"), {"dimension": "acquisition_channel"},
                          headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<h1" in text(response)
    arpu = chart_option(response, "arpu-option")
    assert [s["name"] for s in arpu["series"]] == ["ads", "organic", "(not set)"]


def test_an_unknown_breakdown_is_a_400_with_the_choices(viewer, figures):
    response = viewer.get(reverse("dashboard"), {"dimension": "shoe_size"})
    assert response.status_code == 400
    assert '"shoe_size" is not a breakdown' in text(response)


def test_top_campaigns_table(viewer, figures):
    page = text(viewer.get(reverse("dashboard")))
    rows = re.findall(r'<tr data-campaign="\d+"><td>(?:<a [^>]+>)?(.*?)<.*?'
                      r'<td class="num">([\d.,]+)</td></tr>', page, re.S)
    assert rows == [("Win-back", "180.00"), ("Welcome", "60.00")]


def test_dashboard_renders_chinese_headings(viewer, figures):
    response = viewer.get(reverse("dashboard"), headers={"Accept-Language": "zh-hans"})
    assert "仪表盘" in text(response) or "仪表板" in text(response)


def test_overall_trend_agrees_with_the_live_selector(figures):
    from customers import selectors
    from customers.services.dashboard import _trend_period

    live = selectors.arpu_trend(period=_trend_period(NOW), bucket="month")
    [series] = figures[("trend", "")]["series"]
    assert series["arpu"] == [None if row["arpu"] is None else str(row["arpu"]) for row in live]
    assert series["active"] == [row["active_customers"] for row in live]


@pytest.mark.parametrize("dimension", ["acquisition_channel", "city", "age_band"])
def test_each_breakdown_adds_up_to_all_customers(figures, dimension):
    [overall] = figures[("trend", "")]["series"]
    parts = figures[("trend", dimension)]["series"]
    for month in range(12):
        assert sum(part["active"][month] for part in parts) == overall["active"][month]
        assert sum(float(part["revenue"][month]) for part in parts) == float(
            overall["revenue"][month])


def test_an_rfm_cell_opens_the_segment_made_from_its_template(viewer, figures):
    from segments.library import template_rule
    from segments.models import Segment

    segment = Segment.objects.create(name="Champions", template="rfm_important_value",
                                     rule=template_rule("rfm_important_value"))
    page = text(viewer.get(reverse("dashboard")))
    links = dict(re.findall(r'<a class="rfm-cell" href="([^"]+)" data-rfm-class="(\w+)"', page))
    by_class = {rfm_class: url for url, rfm_class in links.items()}
    assert by_class["important_value"] == reverse("segment-detail", args=[segment.pk])
    assert by_class["general_value"] == f"{reverse('customer-list')}?rfm_class=general_value"


@pytest.fixture
def eager_celery():
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_the_nightly_metrics_task_refreshes_the_dashboard(shop, eager_celery):
    from customers.tasks import metrics_recompute_task

    assert not DashboardFigure.objects.exists()
    metrics_recompute_task()
    stages = {row["stage"]: row["count"] for row in
              DashboardFigure.objects.get(key="lifecycle").value["stages"]}
    assert sum(stages.values()) == 5  # every customer classified by the recompute just run
