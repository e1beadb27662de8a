"""The app's full screens: counter, history, day report, sync and settings."""
