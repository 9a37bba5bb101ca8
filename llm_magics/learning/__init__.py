"""Few-label learning: from a handful of labelled rows to labels for every row, with an estimate
of their accuracy that holds.

Below the ops, above the engine: ``classify``, ``sentiment`` and ``filter`` (``examples=``, through
``ops.from_examples``), the labelling panel (``widgets.label``) and ``mine()`` use it.

- ``examples``: reading ``examples=`` (a label column, a (text, label) frame, a dict), checked,
  copies of one text counted once.
- ``methods``: the methods (``"recalibrated"``, ``"linear"``, ``"stack"``, ``"llm"``, ``"voting"``,
  ``"setfit"``, ``"finetuned"``), ``"auto"``'s choice among them by cross-validation, and the
  selection-corrected out-of-fold estimate; ``fit_linear`` is the one linear model, shared with
  the labelling panel.
- ``quality``: accuracy and macro-F1 with intervals, calibration, conformal label sets.
- ``labels``: the label store the labelling panel writes (``llm_magics.labels.load`` / ``restore``).
"""
