"""Producers: discover accounts, collect them over ccxt (WebSocket and REST), publish to the bus."""
