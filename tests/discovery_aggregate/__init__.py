"""Tests of the aggregate re-publication (spec "Slot Aggregators")."""
