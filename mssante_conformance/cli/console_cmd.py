"""`mssante-conformance console`: administration of the web console (accounts, allowed targets)
and a local server (`console serve`) with the console mounted on the bouchon.

Passwords are read from the terminal (twice) or, with --password-stdin, from the first line of
standard input; they are never flags (a flag would end up in the shell history).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from mssante_conformance.cli import CommandFailed, UsageError

ROLE_LABELS = {"operator": "opérateur", "auditor": "auditeur", "admin": "administrateur"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "console", help="console web de la plateforme de test : comptes, cibles autorisées, serveur",
        description="Administration de la console web (Jobs, lancements, rapports).")
    parser.add_argument("--data-dir", type=Path, help="répertoire de la console (défaut "
                        "$MSSANTE_CONFORMANCE_HOME/console ou ./var/console)")
    sub = parser.add_subparsers(dest="console_command", metavar="ACTION")

    p = sub.add_parser("create-user", help="créer un compte")
    p.add_argument("name", metavar="NOM")
    p.add_argument("--role", choices=("operator", "auditor", "admin"), default="operator",
                   help="operator : lance et voit ses lancements ; auditor : voit tout, en lecture "
                   "seule ; admin : voit tout et lance")
    p.add_argument("--organisation", default="", metavar="ORG",
                   help="organisation (opérateur MSSanté) pour laquelle agit le compte : un compte "
                   "operator ne voit que ce qui appartient à son organisation")
    p.add_argument("--password-stdin", action="store_true", help="lire le mot de passe sur l'entrée standard")
    p.set_defaults(func=create_user)

    p = sub.add_parser("set-password", help="changer le mot de passe d'un compte")
    p.add_argument("name", metavar="NOM")
    p.add_argument("--password-stdin", action="store_true", help="lire le mot de passe sur l'entrée standard")
    p.set_defaults(func=set_password)

    p = sub.add_parser("delete-user", help="supprimer un compte (ses lancements restent)")
    p.add_argument("name", metavar="NOM")
    p.set_defaults(func=delete_user)

    p = sub.add_parser("users", help="lister les comptes")
    p.set_defaults(func=list_users)

    p = sub.add_parser("allow-target", help="autoriser des cibles (hôte, *.domaine, IP ou réseau CIDR)")
    p.add_argument("entries", nargs="+", metavar="HÔTE")
    p.add_argument("--organisation", default="", metavar="ORG",
                   help="organisation à qui appartiennent ces cibles : seuls ses comptes operator "
                   "peuvent les viser (sans organisation : les administrateurs seulement). Un nom "
                   "qui mène à une adresse privée ou locale n'est accepté que si cette adresse est "
                   "elle-même autorisée (IP ou réseau CIDR)")
    p.set_defaults(func=allow_target)

    p = sub.add_parser("disallow-target", help="retirer des cibles autorisées")
    p.add_argument("entries", nargs="+", metavar="HÔTE")
    p.set_defaults(func=disallow_target)

    p = sub.add_parser("targets", help="lister les cibles autorisées")
    p.set_defaults(func=list_targets)

    p = sub.add_parser("serve", help="servir le bouchon et sa console (serveur de développement)")
    p.add_argument("--host", default="127.0.0.1", help="adresse d'écoute (défaut 127.0.0.1) ; hors "
                   "boucle locale, seules les cibles autorisées peuvent être visées")
    p.add_argument("--port", type=int, default=8766, help="port d'écoute (défaut 8766)")
    p.add_argument("--public-url", help="URL publique (défaut http://HOST:PORT) ; hors boucle "
                   "locale, la console est considérée exposée")
    p.add_argument("--exposed", action="store_true", help="considérer la console exposée (seules "
                   "les cibles autorisées) même si --host et --public-url sont locaux")
    p.set_defaults(func=serve)
    parser.set_defaults(func=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _store(args):
    from mssante_conformance.console import default_data_dir
    from mssante_conformance.console.store import ConsoleStore

    try:
        return ConsoleStore(args.data_dir or default_data_dir())
    except OSError as exc:
        raise CommandFailed(f"répertoire de la console inutilisable : {exc.strerror}") from None


def _password(args) -> str:
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UsageError("aucun mot de passe sur l'entrée standard")
        return line
    if not sys.stdin.isatty():
        raise UsageError("pas de terminal : utiliser --password-stdin")
    first = getpass.getpass("Mot de passe : ")
    if first != getpass.getpass("Confirmation : "):
        raise UsageError("les deux saisies diffèrent")
    return first


def create_user(args) -> int:
    from mssante_conformance.console.store import AccountError

    store = _store(args)
    try:
        user = store.create_user(args.name, args.role, _password(args), args.organisation)
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    org = f", organisation {user.organisation}" if user.organisation else ""
    print(f"compte {user.name} créé (rôle {ROLE_LABELS[user.role]}{org})")
    return 0


def set_password(args) -> int:
    from mssante_conformance.console.store import AccountError

    try:
        _store(args).set_password(args.name, _password(args))
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    print(f"mot de passe de {args.name} changé")
    return 0


def delete_user(args) -> int:
    from mssante_conformance.console.store import AccountError

    try:
        _store(args).delete_user(args.name)
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    print(f"compte {args.name} supprimé")
    return 0


def list_users(args) -> int:
    for user in _store(args).users():
        print(f"{user.name}\t{ROLE_LABELS[user.role]}\t{user.organisation or '-'}")
    return 0


def allow_target(args) -> int:
    from mssante_conformance.console.targets import normalize_entry

    store = _store(args)
    try:
        entries = [normalize_entry(e) for e in args.entries]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from mssante_conformance.console.store import AccountError

    for entry in entries:
        try:
            store.allow(entry, args.organisation)
        except AccountError as exc:
            raise UsageError(str(exc)) from None
        owner = f"organisation {args.organisation.strip()}" if args.organisation.strip() else "administrateurs seulement"
        print(f"cible autorisée : {entry} ({owner})")
    return 0


def disallow_target(args) -> int:
    from mssante_conformance.console.targets import normalize_entry

    store = _store(args)
    for raw in args.entries:
        try:
            entry = normalize_entry(raw)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(f"cible retirée : {entry}" if store.disallow(entry) else f"absente de la liste : {entry}")
    return 0


def list_targets(args) -> int:
    for entry, organisation in _store(args).allowlist_entries():
        print(f"{entry}\t{organisation or '-'}")
    return 0


def serve(args) -> int:
    """The bouchon app with the console mounted, on werkzeug's threaded server."""
    from werkzeug.serving import make_server

    from mssante_conformance.console import default_data_dir, init_console
    from mssante_conformance.console.targets import console_exposed
    from mssante_conformance.psc import BouchonConfig, create_app

    if not 0 < args.port < 65536:
        raise UsageError(f"port invalide : {args.port}")
    data_dir = args.data_dir or default_data_dir()
    host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        config = BouchonConfig(data_dir=data_dir / "bouchon",
                               public_url=args.public_url or f"http://{host}:{args.port}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    public_url = config.public_url
    app = create_app(config)
    exposed = console_exposed(args.host, public_url, explicit=args.exposed)
    console = init_console(app, data_dir, exposed=exposed, public_url=public_url,
                           bouchon_url=public_url)
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as exc:
        console.shutdown()
        raise CommandFailed(f"impossible d'écouter sur {args.host}:{args.port} ({exc.strerror})") from None
    print(f"console : {public_url}/console/ (cibles {'restreintes à la liste autorisée' if exposed else 'locales ou autorisées'})",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        console.shutdown()
    return 0
