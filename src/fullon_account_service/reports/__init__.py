"""Read-side reports built from what the sinks stored."""
