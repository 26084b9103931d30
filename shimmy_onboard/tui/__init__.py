"""The Textual app: welcome and consent, the policy, the done screen and the settings.

Only this package imports Textual; ``shimmy_onboard.onboarding`` decides whether it may run.
"""
