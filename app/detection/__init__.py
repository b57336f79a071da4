"""The detection run (which detectors, on which snapshot, into the queue), detector
configuration and conditions, and evaluation on labelled data."""
