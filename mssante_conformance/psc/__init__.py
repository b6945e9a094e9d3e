"""The bouchon: a stub of Pro Santé Connect (OpenID Connect provider) for conformance tests.

See docs/bouchon.md. Public API (docs/interfaces.md)::

    with Bouchon.start(data_dir) as bouchon:
        token = bouchon.mint(TokenVariant.EXPIRED, idnat="899700366240")

    remote = RemoteBouchon("https://bouchon.test:8765", admin_secret, ca_file="ca.pem")

Both are a :class:`BouchonPort` (psc/port.py).
"""

from mssante_conformance.psc.app import create_app
from mssante_conformance.psc.clients import Client
from mssante_conformance.psc.clock import ManualClock
from mssante_conformance.psc.config import BouchonConfig, UnsafeIssuer, default_data_dir
from mssante_conformance.psc.embedded import Bouchon
from mssante_conformance.psc.identities import Identity
from mssante_conformance.psc.mint import MintedToken, MintError
from mssante_conformance.psc.port import BouchonPort
from mssante_conformance.psc.remote import RemoteBouchon, RemoteBouchonError
from mssante_conformance.psc.store import RelyingPartyCall
from mssante_conformance.psc.variants import VARIANTS, TokenVariant

__all__ = [
    "Bouchon", "BouchonConfig", "BouchonPort", "Client", "Identity", "ManualClock", "MintError", "MintedToken",
    "RelyingPartyCall", "RemoteBouchon", "RemoteBouchonError", "TokenVariant", "UnsafeIssuer",
    "VARIANTS", "create_app", "default_data_dir",
]
