"""Run directories: the one home of everything a training run leaves behind.

- :mod:`zoo.runs.layout`: the run files by name (``recipe.toml``, ``metrics.jsonl``, ``last.pt``,
  ``best.pt``) and which checkpoint a run directory stands for;
- :mod:`zoo.runs.files`: the directory's name, its lock, and atomic writes;
- :mod:`zoo.runs.metrics`: ``metrics.jsonl``, written whole and read checked;
- :mod:`zoo.runs.checkpoint`: the checkpoint schema, saving and loading it, old formats;
- :mod:`zoo.runs.model`: the one function that loads a model from a checkpoint;
- :mod:`zoo.runs.table` and :mod:`zoo.runs.plot`: ``zoo runs`` and ``zoo plot``.

The first four need nothing but the standard library, torch and pydantic, so any layer may read
a run's files; :mod:`zoo.runs.model` builds networks from recipes and sits above them. This
package imports none of its modules eagerly, so that reading a name pulls in no network code.
"""
