"""Framework integrations: callbacks and loggers over the public ``Run`` API.

Each framework lives in its own module (``labbook.integrations.keras``, ``.lightning``, ...) and is
imported only when used; its library is an optional extra (``pip install 'labbook[keras]'``), and a
missing one raises ``MissingDependencyError`` naming the extra.
"""
