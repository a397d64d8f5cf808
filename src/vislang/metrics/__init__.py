"""Metrics: caption scores, retrieval recall, VQA accuracy, foil and Winoground scores."""
