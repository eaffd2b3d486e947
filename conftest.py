"""Collection settings for the whole repository: ``pytest`` runs tests/ and the doctests in twin/.

A module of twin/ that cannot be imported for its doctests (it runs something on import, or
needs an optional extra at import time) is listed in ``collect_ignore``.
"""

collect_ignore = ["twin/__main__.py"]  # importing it runs the CLI
