"""Evaluation of trained models on any reader's data: one module per kind of evaluation.

* :mod:`vislang.evaluate.retrieval`: image–text retrieval, recall@k in both directions, per
  language (``vislang eval retrieval``);
* :mod:`vislang.evaluate.zeroshot`: zero-shot classification by prompt templates, per language
  (``vislang eval zeroshot``), with the class sets of :mod:`vislang.evaluate.zeroshot_sets`.

Each takes an encoder (:class:`vislang.represent.encoder.ImageTextEncoder`) and schema records,
and returns a report with ``to_dict()``; the command line is a thin layer over them.
"""
