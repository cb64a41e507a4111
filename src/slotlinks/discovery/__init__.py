"""The Slot Discovery Client and Aggregator: many publishers polled, searched as one, re-published."""
