"""Conversation logic, platform-blind: decides what to do with a photo and what to say back."""
