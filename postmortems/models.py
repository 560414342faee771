"""Post-mortems, their milestones and action items."""
