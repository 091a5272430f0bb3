"""MI-AOD's losses and scores as pure functions of flattened scores."""
from .miaod_losses import (MIL_SCORE_EPS, gt_image_labels,
                           instance_uncertainty, mil_image_scores,
                           mil_instance_scores, mil_level_scores,
                           pseudo_image_labels, pseudo_label_mil_loss,
                           wave_discrepancy)

__all__ = [
    'MIL_SCORE_EPS', 'gt_image_labels', 'instance_uncertainty',
    'mil_image_scores', 'mil_instance_scores', 'mil_level_scores',
    'pseudo_image_labels', 'pseudo_label_mil_loss', 'wave_discrepancy'
]
