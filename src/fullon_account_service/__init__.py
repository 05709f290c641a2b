"""fullon_account_service: watch crypto exchange accounts through ccxt, Redis Streams and SQL."""
