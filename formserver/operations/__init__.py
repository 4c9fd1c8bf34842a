"""Running the centre's day by the rules of checklists/rules/: what is due when (`schedule`) and the
today board (`board`), the duty roster (`roster`: who is on; `roster_edit` its changes, `roster_io` its
spreadsheets, `roster_views` and `roster_files` its pages; `handover_roster`: the handover's two sides), cases
and their steps (`cases`, `casesteps`), handover (`handover`), patrol checkpoints scanned by QR code
(`checkpoints`), penalties (`penalties`) and the monthly report (`monthly`, `reports`). May import `base`,
`db`, `accounts`, `forms` and `records`."""
