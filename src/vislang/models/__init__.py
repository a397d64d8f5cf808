"""Modelling: one model family per module."""
