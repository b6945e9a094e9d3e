"""Which hosts a console user may aim a run at (pure: no DNS, no socket).

The console must never become a scanner of arbitrary hosts. The rule, in one function
(:func:`target_allowed`):

* a host the administrator put on the allowlist (``console allow-target HOST``) is allowed;
  an entry is an exact host name (case-insensitive, IDNA-aware), a ``*.domain`` suffix, an
  IP address or a CIDR network;
* a loopback host (``localhost``, 127.0.0.0/8, ::1) is allowed too, but only while the console
  is **not exposed** (bound to loopback): once other machines can reach the console, loopback
  would mean "the platform's own private services";
* anything else is refused.

Host names are compared as written: the console does not resolve them (an allowlisted name that
resolves elsewhere is the administrator's choice; DNS rebinding is out of scope here).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class TargetRefused(ValueError):
    """A target host outside what the console may reach (French message)."""


def normalize_host(host: str) -> str:
    """Lower-case, without trailing dot or IPv6 brackets, IDNA A-label for names."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host:
        raise ValueError("hôte vide")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"nom d'hôte invalide : {host!r}") from None


def normalize_entry(entry: str) -> str:
    """An allowlist entry in canonical form (host, ``*.domain``, IP or CIDR); ValueError if bad."""
    entry = entry.strip()
    if "/" in entry:
        try:
            return str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"réseau invalide : {entry!r}") from None
    if entry.startswith("*."):
        return "*." + normalize_host(entry[2:])
    if "*" in entry or any(c in entry for c in " :@"):
        raise ValueError(f"entrée invalide : {entry!r} (hôte, *.domaine, adresse IP ou réseau CIDR)")
    return normalize_host(entry)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_exposed(bind_host: str, public_url: str | None = None, *, explicit: bool = False) -> bool:
    """Can machines other than this one reach the console? Then loopback targets are refused.

    True when said so (``--exposed``), when it listens on anything but loopback, or when its
    public URL names another host: behind a reverse proxy the console binds 127.0.0.1 yet
    serves the world.
    """
    if explicit:
        return True
    hosts = [bind_host]
    if public_url:
        hosts.append(url_host(public_url) or "")
    for host in hosts:
        try:
            if not is_loopback(normalize_host(host)):
                return True
        except ValueError:
            return True  # unparsable: assume the worse
    return False


def _matches(host: str, entry: str) -> bool:
    if "/" in entry:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(entry)
        except ValueError:
            return False
    if entry.startswith("*."):
        return host.endswith(entry[1:]) and host != entry[2:]
    return host == entry


def target_allowed(host: str, allowlist: Iterable[str], *, exposed: bool) -> bool:
    """May a run aim at ``host``? (See the module docstring for the rule.)"""
    try:
        host = normalize_host(host)
    except ValueError:
        return False
    entries = []
    for entry in allowlist:
        try:
            entries.append(normalize_entry(entry))
        except ValueError:
            continue  # a broken entry allows nothing
    if any(_matches(host, e) for e in entries):
        return True
    return not exposed and is_loopback(host)


def url_host(url: str) -> str | None:
    """The host of ``imaps://host:993``-like URLs (None if there is none)."""
    try:
        return urlsplit(url.strip()).hostname
    except ValueError:
        return None


def refused_hosts(urls: Iterable[str], allowlist: Iterable[str], *, exposed: bool) -> list[str]:
    """The hosts of ``urls`` that :func:`target_allowed` refuses (unparsable URLs included)."""
    allowlist = list(allowlist)
    refused = []
    for url in urls:
        host = url_host(url)
        if not host or not target_allowed(host, allowlist, exposed=exposed):
            refused.append(host or url)
    return refused


def target_key(urls: Iterable[str]) -> str:
    """What serialises runs: one run at a time per set of target hosts ("reference" if none)."""
    hosts = sorted({normalize_host(h) for h in (url_host(u) for u in urls) if h})
    return ",".join(hosts) if hosts else "reference"
