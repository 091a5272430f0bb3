"""The selection service (``tools/serve.py``): an HTTP API that answers
"which images should we label next?" for a folder of images, the labels
made so far and a trained detector, through the package's public selection
pipeline (:func:`al_plugin.engine.image_query.query_images`).

Imports FastAPI and pydantic, not the model stack: jobs run in child
processes (:mod:`.worker`).
"""
from .app import create_app
from .settings import ServiceSettings
from .paths import PathRefused, resolve_inside

__all__ = ['ServiceSettings', 'create_app', 'PathRefused', 'resolve_inside']
