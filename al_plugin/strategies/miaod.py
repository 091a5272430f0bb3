"""MI-AOD's instance-uncertainty selection."""
import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


@STRATEGIES.register_module()
class InstanceUncertaintyStrategy(BaseStrategy):
    """The images with the highest MI-AOD instance uncertainty.

    ``instance_uncertainty`` is, per image, the mean of the top-k anchor
    values of ``mean_c((p1 - p2)^2)`` over all levels (computed by the
    model's ``predict_uncertainty``; k is the scorer's ``k``).
    """

    requires = ('instance_uncertainty', )

    def score(self, outputs):
        return np.asarray(outputs['instance_uncertainty'], dtype=np.float64)
