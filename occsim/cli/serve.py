"""``occsim serve-planner``: a planner over HTTP for ``--planner remote:URL``."""

from __future__ import annotations

from typing import Annotated

import typer

from occsim.cli.common import app, err, fail


@app.command("serve-planner")
def serve_planner(
    name: Annotated[str, typer.Argument(help="Registered planner to serve.")],
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean otherwise.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8765,
) -> None:
    """Serve a planner over HTTP for `--planner remote:http://HOST:PORT` (contract: planners/remote_server.py)."""
    from occsim.planners.remote import serve_planner as make

    try:
        server = make(name, host, port)
    except ValueError as e:
        raise fail(str(e)) from None
    except OSError as e:
        raise fail(f"cannot listen on {host}:{port}: {e}") from None
    err.print(f"serving planner '{name}' on http://{host}:{server.server_port} (Ctrl-C stops)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
