# Makes `pytest` at the repository root load the harness plugin even when the package is
# not installed (an installed package loads it through its pytest11 entry point).
import importlib.metadata

_entry_points = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
if "mssante_conformance.plugin" not in _entry_points:
    pytest_plugins = ["mssante_conformance.plugin"]
