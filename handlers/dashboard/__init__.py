"""The read-only dashboard's application side: signing in through Slack, and what each page shows
(rendered as HTML by ``bot``)."""
