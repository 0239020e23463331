"""One entry point for every service process: `wuye-service <name>` (or `python -m services <name>`).

The container image runs this with the service's name as its argument (deploy/Dockerfile,
deploy/k8s); `--check` builds the service from its settings — rules, templates, routes,
subscriptions — and exits without touching the database or Kafka, so an image or an installed
package can be checked without infrastructure.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from runtime.service import build_app
from runtime.service import main as run
from runtime.settings import Settings

SERVICES = ("complaints", "inspections", "notifications", "exposure")


def load(name: str) -> tuple[type[Settings], object]:
    bootstrap = importlib.import_module(f"services.{name}.bootstrap")
    settings_cls = next(
        v
        for v in vars(bootstrap).values()
        if isinstance(v, type) and issubclass(v, Settings) and v is not Settings
    )
    return settings_cls, bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wuye-service", description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument(
        "--check", action="store_true", help="build the service from its settings, then exit"
    )
    args = parser.parse_args(argv)
    settings_cls, bootstrap = load(args.service)
    settings = settings_cls()  # from the environment (ConfigMap and Secret in Kubernetes)
    spec = bootstrap.spec(settings)  # type: ignore[attr-defined]
    if args.check:
        app = build_app(spec, settings)
        routes = sum(1 for _ in app.routes)
        print(f"{args.service}: ok ({routes} routes, {len(spec.consumers)} consumer groups)")
        return 0
    run(spec, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
