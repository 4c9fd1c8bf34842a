"""The forms as the server knows them: the loaded handbook and its clock (`catalogue`), each form definition
and regulation stored once per version (`formdefs`, `regversions`), the WTForms class of each form version
(`webforms`) and the API's quick check of values that must accept exactly what it accepts (`fastvalues`).
May import `base`, `db` and `accounts`."""
