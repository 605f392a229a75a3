"""Live sessions: webinars and in-person events with registration, a waiting list,
calendar invitations, attendance (registers and video-platform reports) and their figures."""
