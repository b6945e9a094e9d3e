import sys

from mssante_conformance.cli import main

sys.exit(main())
