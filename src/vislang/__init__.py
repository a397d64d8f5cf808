"""vislang: a toolkit for vision and language.

Read datasets, encode images and text, train, retrieve, caption, evaluate and probe models,
multilingual throughout and offline on a laptop CPU.
"""

__version__ = "0.1.0"
