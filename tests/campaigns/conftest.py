import pytest


@pytest.fixture(autouse=True)
def _fresh_version_graphs():
    """version_graph caches parsed graphs by version id, and SQLite hands the same ids out
    again after each test's rollback."""
    from campaigns.services.entry import version_graph

    version_graph.cache_clear()
    yield
    version_graph.cache_clear()
