"""The conformance suites: one test per catalog check (`@pytest.mark.check("ID")`)."""
