"""`mssante-conformance pki init DIR`: write the test IGC Santé PKI (keeps existing files)."""

from __future__ import annotations

from pathlib import Path

from mssante_conformance.cli import CommandFailed


def register(subparsers) -> None:
    parser = subparsers.add_parser("pki", help="IGC Santé de test (certificats des essais)")
    sub = parser.add_subparsers(dest="pki_command", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="crée l'IGC de test dans DIR (conserve l'existant)")
    init.add_argument("directory", metavar="DIR", type=Path)
    init.add_argument("--harness-domain", default=None, help="domaine de test du harnais")
    init.add_argument("--auth-cli-policy-oid", default=None,
                      help="OID de politique des certificats ORG AUTH_CLI (défaut: OID de test)")
    init.set_defaults(func=_init)


def _init(args) -> int:
    from mssante_conformance.pki import TestPKI

    options = {}
    if args.harness_domain:
        options["harness_domain"] = args.harness_domain
    if args.auth_cli_policy_oid:
        options["auth_cli_policy_oid"] = args.auth_cli_policy_oid
    try:
        pki = TestPKI.ensure(args.directory, **options)
    except OSError as exc:
        raise CommandFailed(f"impossible d'écrire l'IGC de test dans {args.directory}: {exc}") from None
    except ValueError as exc:
        raise CommandFailed(f"paramètre invalide: {exc}") from None
    print(f"IGC Santé de test dans {pki.directory}")
    print(f"  ancre de confiance: {pki.ca_file}")
    for name in ("operator_server", "operator_mta", "org_auth_cli", "harness_mta", "harness_sink",
                 "foreign_client", "foreign_server", "expired_client", "expired_server"):
        pair = getattr(pki, name)
        print(f"  {name:16} {pair.cert.name:22} sha256 {pki.fingerprint_sha256(pair)[:23]}…")
    print("Clés privées en mode 0600 (jamais affichées).")
    return 0
