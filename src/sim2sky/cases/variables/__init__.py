"""The variable-star case: real catalogues of periodic variables (OGLE-III) as feature tables with
classes, for representation learning, clustering, anomaly ranking and classification.

Vocabulary in :mod:`.schema`; the reader in :mod:`.ogle`.
"""

from .ogle import ogle_features, read_ogle3
from .schema import FEATURE_NAMES, OGLE_CLASSES, OGLE_TYPES, RARE_CLASSES, ogle_class

__all__ = ["ogle_features", "read_ogle3", "FEATURE_NAMES", "OGLE_CLASSES", "OGLE_TYPES", "RARE_CLASSES", "ogle_class"]
