"""Metrics: sensor hooks for the hot paths and their Prometheus implementation."""

from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor

__all__ = ["NULL_SENSOR", "Sensor"]
