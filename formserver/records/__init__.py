"""Records: storing a submission with what it opens in the same transaction (`store`, `followup`),
corrections, listing and filters (`queries`), the record pages, review and its PDF (`review`), exports
(`exports`), filling a form and drafts (`fill`), photos (`photos`). Parts above plug into the record views
through `hooks`, so that nothing here imports them. May import `base`, `db`, `accounts` and `forms`."""
