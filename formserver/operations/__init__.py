"""Running the centre's day by the rules of checklists/rules/: what is due when (`schedule`) and the
today board (`board`), cases and their steps (`cases`, `casesteps`), handover (`handover`), penalties
(`penalties`) and the monthly report (`monthly`, `reports`). May import `base`, `db`, `accounts`, `forms`
and `records`."""
