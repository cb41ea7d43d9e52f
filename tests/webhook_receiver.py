"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request it gets."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Answer the first ``fail_first`` requests with ``fail_status``, then 200, after
    ``delay`` seconds each."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500, delay: float = 0.0):
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay = delay
        self.requests: list[tuple[dict, bytes, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    failing = len(receiver.requests) < receiver.fail_first
                    status = receiver.fail_status if failing else 200
                    receiver.requests.append((dict(self.headers), body, status))
                time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the worker was killed mid-delivery: what this test is about

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks?source=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answered(self) -> list[dict]:
        """Return the bodies of the requests answered 200, in the order they came."""
        with self.lock:
            return [json.loads(body) for _, body, status in self.requests if status == 200]

    def all_ids(self) -> list[str]:
        """Return the event id of every request, failed ones included, in order."""
        with self.lock:
            return [json.loads(body)["id"] for _, body, _ in self.requests]

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()
