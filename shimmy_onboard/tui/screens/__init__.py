"""The app's screens: welcome, policy, done and settings."""
