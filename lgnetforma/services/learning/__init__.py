"""Learning: enrolment, module views, quiz attempts (and attempts granted), completion,
progress and certificates."""
