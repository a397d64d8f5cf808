"""Understanding models: foils, Winoground, attribute probes, modality influence."""
