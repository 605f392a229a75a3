"""The platform: training cycles, the audit trail, the outbox, absolute links, backups,
scheduled jobs, and the rules every entry point shares (errors, plain text)."""
