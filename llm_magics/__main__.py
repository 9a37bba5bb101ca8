import sys

from llm_magics.cli import main

sys.exit(main())
