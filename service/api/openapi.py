"""Write the OpenAPI document generated from the code: ``python -m service.api.openapi > openapi.yaml``."""

from __future__ import annotations

import sys

import yaml


def render() -> str:
    """The OpenAPI document of the app, as YAML text."""
    from service.api import create_app

    # The document is the same with the records store on or off (its routes are always registered);
    # off, rendering needs no database.
    app = create_app({"TESTING": True, "DEV_MODE": True, "STORE": False})
    with app.test_client() as c:
        spec = c.get("/openapi.json").get_json()
    return yaml.safe_dump(spec, sort_keys=True, allow_unicode=True, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
