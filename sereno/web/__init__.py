"""The public web: health and metrics, the webhook receiver, the public map, its feeds."""
