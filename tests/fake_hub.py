"""A Hugging Face hub stand-in on 127.0.0.1: the HTTP routes huggingface_hub downloads through.

Serves one model repository at one commit: the revision info, the recursive file listing,
and HEAD/GET on ``/<owner>/<name>/resolve/<revision>/<file>`` with the headers
huggingface_hub checks (X-Repo-Commit, ETag, Content-Length) and byte ranges. Every request
is logged, and a test can make the server drop a connection part-way through a file, go
down (HTTP 503) after that drop, or hold a file until the test lets it go.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None


class FakeHub:
    """The repository ``repo_id`` with ``files`` (name to content) at commit ``commit``."""

    def __init__(self, repo_id: str, files: dict[str, bytes], commit: str = "c0ffee" * 6 + "c0de") -> None:
        self.repo_id = repo_id
        self.files = files
        self.commit = commit
        self.requests: list[Request] = []
        # File name to the number of bytes sent before the next full GET of it is cut off.
        self.drop_after: dict[str, int] = {}
        # When True, the first drop also takes the hub down: every later request gets 503.
        self.down_after_drop = False
        self.down = False
        # File name to an event the GET of that file waits for before it sends the body.
        self.hold: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        for event in self.hold.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()

    def etag(self, name: str) -> str:
        return hashlib.sha256(self.files[name]).hexdigest()

    def gets(self, name: str) -> list[Request]:
        """Return the logged GET requests of file ``name``."""
        path = f"/{self.repo_id}/resolve/{self.commit}/{name}"
        with self.lock:
            return [r for r in self.requests if r.method == "GET" and r.path == path]

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()


def _handler_class(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    repo = re.escape(hub.repo_id)
    info_route = re.compile(rf"/api/models/{repo}/revision/(?P<revision>[^/]+)")
    tree_route = re.compile(rf"/api/models/{repo}/tree/(?P<revision>[^/]+)")
    file_route = re.compile(rf"/{repo}/resolve/(?P<revision>[^/]+)/(?P<name>.+)")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
            return None

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            with hub.lock:
                hub.requests.append(Request(self.command, path, self.headers.get("Range")))
            if hub.down:
                return self._json(503, {"error": "the hub is down for a test"})
            if match := info_route.fullmatch(path):
                if not self._known_revision(match["revision"]):
                    return None
                siblings = [{"rfilename": name} for name in hub.files]
                return self._json(200, {"id": hub.repo_id, "sha": hub.commit, "siblings": siblings})
            if match := tree_route.fullmatch(path):
                if not self._known_revision(match["revision"]):
                    return None
                return self._json(200, [{"type": "file", "path": name, "size": len(content),
                                         "oid": hashlib.sha1(content).hexdigest()}
                                        for name, content in hub.files.items()])
            if (match := file_route.fullmatch(path)) and match["name"] in hub.files:
                if not self._known_revision(match["revision"]):
                    return None
                return self._file(match["name"], body)
            return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

        def _known_revision(self, revision: str) -> bool:
            if revision in ("main", hub.commit):
                return True
            self._json(404, {"error": f"Invalid rev id: {revision}"}, {"X-Error-Code": "RevisionNotFound"})
            return False

        def _file(self, name: str, body: bool) -> None:
            content = hub.files[name]
            start = 0
            requested = self.headers.get("Range")
            if requested and (match := re.fullmatch(r"bytes=(\d+)-", requested)):
                start = int(match[1])
            part = content[start:]
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", hub.commit)
            self.send_header("ETag", f'"{hub.etag(name)}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(part)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
            self.end_headers()
            if not body:
                return
            if name in hub.hold:
                hub.hold[name].wait(timeout=120)
            cut = hub.drop_after.pop(name, None) if not start else None
            if cut is None:
                self.wfile.write(part)
                return
            # Send the first bytes, then close the connection before Content-Length is reached.
            self.wfile.write(part[:cut])
            self.wfile.flush()
            if hub.down_after_drop:
                hub.down = True
            self.close_connection = True

        def _json(self, status: int, value, headers: dict[str, str] | None = None) -> None:  # noqa: ANN001
            data = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, header in (headers or {}).items():
                self.send_header(key, header)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler
