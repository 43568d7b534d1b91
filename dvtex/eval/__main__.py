import sys

from dvtex.eval.cli import main

sys.exit(main())
