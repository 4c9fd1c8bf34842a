"""The form server: staff fill the checklist forms online; supervisors review, follow up and export.

    flask --app formserver run            (development)
    flask --app formserver worker         (the notification worker, beside the web server)
    gunicorn 'formserver:create_app()'    (production, see README)

Its parts, each a package whose docstring says what it is for; a package imports only those listed
before it (tests/formserver/test_layout.py keeps it so):

    base        settings, error pages, the rules for outside input, CSRF and security headers
    db          engine and sessions, the tables, migrations, backup, fast inserts, group commit
    accounts    roles and access rules, login and sessions, passwords, the audit log
    forms       the loaded handbook (catalogue), form versions, web forms and the values they accept
    records     storing, correcting, listing, reviewing and exporting records; filling; drafts; photos
    operations  schedules and the today board, duty roster, cases and their steps, handover, penalties, monthly report
    training    learning paths, read-and-acknowledge, quizzes, progress
    notify      notifications: the scheduling pass, the outbox, the delivery worker, inbox and settings
    api         the JSON API and its OpenAPI document
    app         the application factory (blueprints registered in one place), CLI, the handbook site
"""

from formserver.app.factory import create_app

__all__ = ["create_app"]
