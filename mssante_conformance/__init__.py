"""mssante-conformance: conformance test harness of MSSanté operators against Ref#1 v1.5."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("mssante-conformance")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
