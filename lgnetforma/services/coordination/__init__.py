"""Coordination: who sees which territory (scope, selections), the comuni registry,
enrolment by coordinators, bulk enrolment, reminders and the gradebook."""
