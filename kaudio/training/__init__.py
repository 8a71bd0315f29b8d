"""Training: kaudio.fit, the spec-driven trainer, schedules, resume, searches (registry kind 'train')."""
