"""The sinks' consumer-group names, apart from the sinks: a reader of a group's progress
(``verify.stored_through``, which ``health`` runs) must not import a sink and its ORM."""

CACHE = "cache"
ORM = "orm"
