"""People and access: roles, permissions, passwords, TOTP, sessions, device keys."""
