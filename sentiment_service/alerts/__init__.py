"""Alerts: rules over stored sentiment, competitor and health data, delivered to webhooks.

- `rules`: the rule kinds, their parameters and scopes, webhook URL checks;
- `evaluate`: stored data + rule + as_of -> conditions, each with a stable dedupe key;
- `service`: a run: evaluate enabled rules, store new conditions as events (a unique dedupe
  key means one alert per condition, ever), then deliver;
- `delivery`: Slack-compatible webhook posts with retries and an attempt log;
- `manage`: rule changes with the audit trail; `history`: the event and delivery logs;
  `cli`: `sentiment-service alerts`.
"""
