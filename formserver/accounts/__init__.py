"""People: roles and the access rule of each view (`access`), login, sessions and throttling (`auth`),
password hashing (`passwords`), the audit log (`audit`). May import `base` and `db`."""
