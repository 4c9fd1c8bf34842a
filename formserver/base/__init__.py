"""What every part of the form server stands on: settings declared once (`config`), Chinese error pages and
`zh_abort` (`errors`), the rules every piece of outside input meets (`inputs`), CSRF and security headers
(`security`). Imports nothing of the form server."""
