"""The database side of learning: frames from the feedback log, the model store, retraining and
its gate, queue ranking, what happens after a decision, and the rule ledger."""
