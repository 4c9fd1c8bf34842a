"""The JSON API under /api/v1 (`views`) and its OpenAPI document with a JSON Schema per form (`openapi`).
May import `base`, `db`, `accounts`, `forms` and `records`."""
