"""Reasoning Workstation: review a local language model's reasoning step by step."""

__version__ = "0.1.0"
