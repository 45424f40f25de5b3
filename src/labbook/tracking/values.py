"""Checking and converting what users log: the rules live at the ground level, in
``labbook._values`` (media, the writer and the store use them too); these names stay here."""

from labbook._values import json_float, json_value, metric_value, step_value, to_json_value  # noqa: F401

__all__ = ["json_float", "json_value", "metric_value", "step_value"]
