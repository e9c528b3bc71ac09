"""Alert rules, evaluation, lifecycle, subscriptions and delivery."""
