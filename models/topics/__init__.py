"""Topic models: the int8 sentence encoder and few-shot topic classifiers on top of it."""
