"""Seed-compatible import paths (``fullon_account_service.utils.capability_detector``)."""
