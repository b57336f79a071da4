"""Tests of app/notify: webhooks and e-mail to real receivers."""
