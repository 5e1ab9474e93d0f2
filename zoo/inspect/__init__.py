"""Inspection: what a network is (:mod:`~zoo.inspect.summary`) and whether the presets match the
documented table (:mod:`~zoo.inspect.audit`)."""

from zoo.inspect.audit import Check, PresetAudit, audit, load_reference
from zoo.inspect.summary import Layer, Summary, count_parameters, summarize, weighted_depth

__all__ = [
    "Check",
    "Layer",
    "PresetAudit",
    "Summary",
    "audit",
    "count_parameters",
    "load_reference",
    "summarize",
    "weighted_depth",
]
