"""pytest plugin of the harness (options, fixtures, `check` marker, outcome collection).

Placeholder until the API LPS issue lands: registers the marker only.
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "check(id): the catalog check this test evidences")
