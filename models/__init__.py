"""Detectors (rules and anomaly models), feature builders and learning from decisions. Pure."""
