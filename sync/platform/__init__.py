"""The reference city platform: the sync protocol's server side, for demos and tests."""
