"""Where a target name really leads, and keeping runs there (no socket but the resolver's).

An allowlisted *name* proves nothing: its owner controls its DNS and can point it at 127.0.0.1,
10.0.0.1 or 169.254.169.254, and the platform's own services would answer into their report.
So the console resolves every target name when a run is launched (:func:`check_target`),
refuses any address that is not public (loopback, private, link-local, multicast, reserved…)
unless the administrator allowlisted that address or its network explicitly, and hands the run
the address it checked as ``--resolve HOST:IP``. The run then connects to that address
(:func:`connect_address`, used by ``mail.connection`` and ``mail.tls_scan``) while TLS keeps the
name for SNI and certificate checks: a DNS answer that changes between the check and the
connections (rebinding) is never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

Resolver = Callable[[str, int | None], list[str]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Why an address is not public, in the words the console shows (first match wins).
_KINDS = (
    ("is_unspecified", "adresse non spécifiée"),
    ("is_loopback", "boucle locale"),
    ("is_link_local", "lien local (dont métadonnées de nuage 169.254.169.254)"),
    ("is_multicast", "multidiffusion"),
    ("is_private", "réseau privé"),
    ("is_reserved", "plage réservée"),
)

_PINS: dict[str, str] = {}


class ResolutionRefused(ValueError):
    """A target leads somewhere the run may not go (French message)."""


def system_resolver(host: str, port: int | None) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


def non_public_kind(address: str) -> str | None:
    """Why ``address`` is not a public Internet address (None if it is one)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for attribute, label in _KINDS:
        if getattr(ip, attribute):
            return label
    return None if ip.is_global else "adresse non routable sur Internet"


def ip_entries(allowlist: Iterable[str]) -> list[Network]:
    """The allowlist entries that name addresses (IP or CIDR), as networks."""
    networks = []
    for entry in allowlist:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a name or a ``*.domain``: says nothing of addresses
    return networks


def check_target(host: str, port: int | None, *, allowlist: Iterable[str], loopback_ok: bool,
                 resolver: Resolver | None = None) -> str:
    """The address a run must connect to for ``host``; ResolutionRefused if it may not.

    Every address the name resolves to must be public, or inside an IP/CIDR entry of
    ``allowlist``, or (``loopback_ok``: console not exposed) on loopback: a name with one
    private address among public ones is refused, since the resolver's order may change.
    """
    host = host.strip().strip("[]").rstrip(".")
    networks = ip_entries(allowlist)
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            addresses = (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            raise ResolutionRefused(f"{host} : nom introuvable ({getattr(exc, 'strerror', None) or exc})") from None
    if not addresses:
        raise ResolutionRefused(f"{host} : aucune adresse")
    for address in addresses:
        try:
            kind = non_public_kind(address)
        except ValueError:
            raise ResolutionRefused(f"{host} : adresse invalide {address!r}") from None
        if kind is None:
            continue
        ip = ipaddress.ip_address(address)
        if loopback_ok and ip.is_loopback:
            continue
        if any(ip.version == net.version and ip in net for net in networks):
            continue
        raise ResolutionRefused(f"{host} mène à {address} ({kind}) : adresse non autorisée sur "
                                "cette plateforme (seul l'administrateur peut l'autoriser, par "
                                "son adresse IP)")
    return addresses[0]


# ------------------------------------------------------------------------------ pinning
def parse_pin(text: str) -> tuple[str, str]:
    """``HOST:IP`` → (host, ip); ValueError (French) if it is not that."""
    host, sep, address = text.strip().partition(":")
    host = host.strip().strip("[]").rstrip(".").lower()
    address = address.strip().strip("[]")
    if not sep or not host or not address:
        raise ValueError(f"{text!r} : attendu HÔTE:ADRESSE-IP")
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        raise ValueError(f"{text!r} : {address!r} n'est pas une adresse IP") from None
    return host, address


def install_pins(entries: Iterable[str]) -> None:
    """Make every connection of this process to HOST go to IP (``--resolve HOST:IP``)."""
    pins = dict(parse_pin(e) for e in entries)
    _PINS.clear()
    _PINS.update(pins)


def pinned_address(host: str) -> str | None:
    return _PINS.get(host.strip().strip("[]").rstrip(".").lower())


def connect_address(host: str) -> str:
    """The address to open a TCP connection to for ``host`` (the pin, else the name itself)."""
    return pinned_address(host) or host
