import threading

import pytest


@pytest.fixture
def in_thread():
    """Serve HTTP servers on daemon threads; yields a function that starts one and returns its URL."""
    servers = []

    def start(server) -> str:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
