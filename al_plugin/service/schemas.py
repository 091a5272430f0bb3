"""The bodies the service accepts (pydantic; a bad field is a 422 that
names it)."""
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field


class SelectRequest(BaseModel):
    """``POST /select``: which images to label next.

    Paths are relative to the service's folders: ``images`` and
    ``labeled`` to ``--data-root``, ``config`` to ``--config-dir``,
    ``checkpoint`` to ``--work-dir``.
    """
    model_config = ConfigDict(extra='forbid')

    images: Union[str, List[str]] = Field(
        description='a folder of images (subfolders included) or a list of '
        'image files')
    labeled: Optional[Union[str, List[str]]] = Field(
        None,
        description='the labels made so far: a COCO json, a VOC folder '
        '(Annotations/*.xml) or a list of image files; these images are '
        'not selected again, and strategies that use the labeled set '
        '(core-set) start from them')
    config: str = Field(description='the experiment config')
    checkpoint: str = Field(
        'latest',
        description='the model\'s weights, or "latest": the newest a train '
        'job wrote')
    budget: int = Field(gt=0, le=1_000_000, description='images to pick')
    strategy: Optional[str] = Field(
        None,
        description='a registered strategy (GET /strategies); default: the '
        'config\'s ActiveSelectionHook strategy')
    options: Dict[str, Any] = Field(
        default_factory=dict, description='the strategy\'s options')
    score_thr: float = Field(
        0.3, ge=0, le=1,
        description='detections kept as pre-annotations score at least this')
    seed: Optional[int] = Field(
        None, description='seed of random picks (default: the config\'s)')


class LabelsRequest(BaseModel):
    """What the train and evaluate jobs share: labeled images (a COCO
    json) and the experiment config.

    ``labels`` and ``images`` are relative to ``--data-root``, ``config``
    to ``--config-dir``, ``checkpoint`` to ``--work-dir``.
    """
    model_config = ConfigDict(extra='forbid')

    labels: str = Field(description='a COCO json of the labeled images')
    images: str = Field(
        description='the folder its images\' file_name are relative to')
    config: str = Field(description='the experiment config')


class TrainRequest(LabelsRequest):
    """``POST /train``: train the experiment's detector on the labels made
    so far; its checkpoint becomes "latest"."""
    checkpoint: Optional[str] = Field(
        None,
        description='weights to start from ("latest": the newest a train '
        'job wrote); default: the config\'s initialisation')
    epochs: int = Field(gt=0, le=1000, description='epochs to train')


class EvaluateRequest(LabelsRequest):
    """``POST /evaluate``: a checkpoint's mAP on labeled images, overall
    and per class (VOC 11-point AP at IoU 0.5 and COCO-style)."""
    checkpoint: str = Field(
        'latest', description='the weights, or "latest" (the train jobs\')')
    metrics: List[Literal['voc', 'coco']] = Field(
        default_factory=lambda: ['voc', 'coco'], min_length=1,
        description='VOC-style, COCO-style or both')
