"""The provider side: one health system's store, slot generation, publication and booking portal."""
