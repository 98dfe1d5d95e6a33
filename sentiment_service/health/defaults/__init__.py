"""The shipped scorecards (YAML) and their plain-words criteria (README.md).

A package only so that the YAML and Markdown files are installed with the code; load them
with `sentiment_service.health.scorecard.load_default_scorecards()`.
"""
