"""A trained model in use: prediction on image files, export to ONNX, ``torch.export`` and
safetensors, and the table of runs.

``load_trained(path)`` reads a run directory, a checkpoint or an exported safetensors pair;
``predict`` labels image files with it; :mod:`zoo.deploy.export` writes self-checked files that
need nothing from zoo.
"""

from zoo.deploy.trained import TrainedModel, image_size, load_trained

__all__ = ["TrainedModel", "image_size", "load_trained"]
