"""Account health scoring: the pure core (no database, no HTTP, no clock).

A *scorecard* (`scorecard.py`) lists weighted components; each component reads one account
feature, turns it into 0..100 health points with a *transform* (`transforms.py`), and the
score is the weighted mean of the components that are present and fresh (`scoring.py`).
Around that core:

- `overrides.py`: a person's score or band that wins until it expires;
- `drivers.py`: which components moved the score between two dates;
- `backtest.py`: how well scores separated past outcomes (AUC, lift, calibration, charts);
- `weights.py`: weights suggested by a regularised logistic regression on outcomes (a draft);
- `drift.py`: population stability of features and labels, and data sources that went dark;
- `defaults/`: the shipped churn-risk (health) and expansion scorecards.

Every function takes what it needs as arguments; the time of scoring (`as_of`) is always a
parameter, so the same inputs always give the same result.
"""
