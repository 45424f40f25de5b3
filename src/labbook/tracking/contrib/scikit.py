"""``polyaxon.tracking.contrib.scikit``: ``from labbook.tracking.contrib.scikit import log_classifier``.

``log_classifier`` and ``log_regressor`` are ``labbook.integrations.sklearn``'s.
"""

from labbook.integrations.sklearn import log_classifier, log_regressor

__all__ = ["log_classifier", "log_regressor"]
