"""The reference MSSanté operator (real Dovecot + Postfix on loopback) and its profiles.

``ReferenceOperator(workdir, bouchon, profile="conformant", sink=None)``: see
:mod:`mssante_conformance.reference.operator` and docs/reference-operator.md.
"""

from mssante_conformance.reference.directory import Directory, Mailbox, load_directory
from mssante_conformance.reference.operator import ReferenceOperator
from mssante_conformance.reference.processes import ReferenceOperatorError
from mssante_conformance.reference.profiles import PROFILES, Profile, get_profile

__all__ = ["Directory", "Mailbox", "PROFILES", "Profile", "ReferenceOperatorError", "ReferenceOperator",
           "get_profile", "load_directory"]
