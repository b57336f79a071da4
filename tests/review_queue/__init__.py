"""review_queue."""
