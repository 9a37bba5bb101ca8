"""``python -m llm_magics``: the command-line interface (``llm_magics.cli``)."""

import sys

from llm_magics.cli import main

sys.exit(main())
