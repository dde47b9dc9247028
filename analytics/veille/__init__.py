"""Temporal detection engine of the veille: Farrington (Noufaily 2013), EARS, multiple testing."""
