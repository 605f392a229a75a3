"""People: accounts, registration and confirmation, passwords, API tokens, staff
management and each person's own data (export, deletion)."""
