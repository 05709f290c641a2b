"""Simulated venues, one package per ccxt exchange id (same file roles in each)."""
