"""`mssante-conformance token VARIANT --idnat …`: print one token for manual tests.

Printing the token on stdout is this command's purpose; everything else (stderr) shows only
its fingerprint. The issuer is the one the bouchon of that data dir last served
(<data-dir>/public_url), or --public-url.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mssante_conformance.cli import UsageError


def register(subparsers) -> None:
    from mssante_conformance.psc.variants import TokenVariant

    parser = subparsers.add_parser(
        "token", help="émettre un jeton du bouchon (variante au choix) pour un test manuel",
        description="Émet un jeton d'accès du bouchon PSC et l'écrit sur la sortie standard.")
    parser.add_argument("variant", metavar="VARIANTE", choices=[v.value for v in TokenVariant],
                        help="une de: " + ", ".join(v.value for v in TokenVariant))
    parser.add_argument("--idnat", required=True, help="IDNAT du professionnel (ex. 899700366240)")
    parser.add_argument("--client-id", help="client (azp) du jeton (défaut: lps-test)")
    parser.add_argument("--data-dir", type=Path, help="répertoire du bouchon (défaut "
                        "$MSSANTE_CONFORMANCE_HOME/bouchon ou ./var/bouchon)")
    parser.add_argument("--public-url", help="URL publique du bouchon (défaut: celle de son dernier lancement)")
    parser.add_argument("--claims", action="store_true", help="afficher aussi les revendications sur stderr")
    parser.set_defaults(func=run)


def run(args) -> int:
    from mssante_conformance.cli.bouchon_cmd import PUBLIC_URL_FILE
    from mssante_conformance.psc.clients import ClientsError
    from mssante_conformance.psc.config import BouchonConfig, default_data_dir
    from mssante_conformance.psc.identities import IdentitiesError
    from mssante_conformance.psc.mint import MintError, mint
    from mssante_conformance.psc.state import BouchonState

    data_dir = args.data_dir or default_data_dir()
    public_url = args.public_url
    if not public_url:
        try:
            public_url = (data_dir / PUBLIC_URL_FILE).read_text("utf-8").strip()
        except OSError:
            raise UsageError(f"URL publique inconnue: lancez d'abord `mssante-conformance bouchon "
                             f"--data-dir {data_dir}` ou donnez --public-url") from None
    try:
        state = BouchonState(BouchonConfig(data_dir=data_dir, public_url=public_url))
    except (ValueError, ClientsError, IdentitiesError) as exc:
        raise UsageError(str(exc)) from None
    try:
        minted = mint(state, args.variant, args.idnat, args.client_id)
    except MintError as exc:
        raise UsageError(str(exc)) from None
    finally:
        state.close()
    print(minted.token)
    print(f"jeton {minted.variant} pour {args.idnat}: empreinte {minted.fingerprint}, "
          f"émetteur {state.config.issuer}", file=sys.stderr)
    if args.claims:
        print(json.dumps(minted.claims, ensure_ascii=False, indent=2), file=sys.stderr)
    return 0
