"""The desktop window's JavaScript bridge: native file dialogs, dropped files and "show in folder", nothing more.

The page sees four calls on ``window.pywebview.api``: ``openImage(destination?)``,
``chooseOutputFolder()``, ``saveImageAs(url)`` and ``revealInFolder(url)``. A pick or a drop goes
into the Uploads (the initial image) or, with destination ``control``, is a control unit's picture.
Files reach the server only through its validated upload path, images leave only from inside the
output folder, and the only script the bridge runs in the page is its own, with JSON-encoded data.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invokeai_gui.server.gallery import is_image_name
from invokeai_gui.server.uploads import CONTROL_DESTINATION, UploadError
from ldm.invoke.errors import UserError, user_message
from ldm.invoke.files import CONTROL_FOLDER, INIT_FOLDER, atomic_write

from .drops import DropWitness

if TYPE_CHECKING:
    from invokeai_gui.server.studio import Studio

log = logging.getLogger(__name__)

# pywebview's dialog kinds (webview.FileDialog.OPEN / FOLDER / SAVE), spelled out so this module
# imports without pywebview installed.
OPEN_DIALOG, FOLDER_DIALOG, SAVE_DIALOG = 10, 20, 30
IMAGE_FILE_TYPES = ("Images (*.png;*.jpg;*.jpeg;*.webp)",)
# The open dialog's title says what the picked picture is for (pywebview's localization key, which
# its Qt back end reads from the window each time a dialog opens).
OPEN_TITLE_KEY = "linux.openFile"
OPEN_DIALOG_TITLES = {None: "Choose an initial image", CONTROL_DESTINATION: "Choose a control image"}
EXPOSED_CALLS = ("openImage", "chooseOutputFolder", "saveImageAs", "revealInFolder")
# What the page adds to a drop's DOM event (web/src/app/desktopBridge.ts, markDrop) to send the
# dropped file somewhere other than the Uploads: the upload destination and, for a control picture,
# the unit it is for. The window event that answers such a drop.
DROP_DESTINATION_KEY, DROP_UNIT_KEY = "invokeaiDestination", "invokeaiUnit"
CONTROL_DROPPED_EVENT = "controlImageDropped"


class DesktopError(UserError):
    """A bridge call that could not be done; the message is a sentence for the user."""


def reveal_command(path: Path, platform: str = sys.platform) -> list[str]:
    """The platform's way to show ``path`` in its file manager."""
    if platform == "darwin":
        return ["open", "-R", str(path)]
    if platform.startswith("win"):
        return ["explorer", f"/select,{path}"]
    return ["xdg-open", str(path.parent)]  # freedesktop has no portable "select this file"


def _launch(command: Sequence[str]) -> None:
    """Starts a helper program without waiting for it (a file manager may stay open for hours)."""
    subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


class DesktopBridge:
    """Everything the page may ask of the desktop, and the Python side of native drops.

    It holds the server and the window, so it is never handed to pywebview itself; the page
    gets ``functions()``, closures that reach nothing else.
    """

    def __init__(self, studio: Studio, launch: Callable[[Sequence[str]], None] = _launch) -> None:
        self._studio = studio
        self._launch = launch
        self._window: Any = None
        self._witness: DropWitness | None = None
        self._last_open_dir = Path.home()
        pictures = Path.home() / "Pictures"
        self._last_save_dir = pictures if pictures.is_dir() else Path.home()

    def attach(self, window: Any, witness: DropWitness | None = None) -> None:
        """The pywebview window the dialogs belong to, and (with Qt) the witness of real drops."""
        self._window = window
        self._witness = witness

    # -- the four calls ----------------------------------------------------------------------

    def open_image(self, destination: str | None = None) -> dict[str, Any] | None:
        """Native open dialog; the picked file is uploaded like any upload, into the Uploads or with
        ``destination`` (``control``: a control picture, outside the gallery). None when cancelled."""
        _check_destination(destination)
        self._title(OPEN_TITLE_KEY, OPEN_DIALOG_TITLES[destination])
        picked = self._dialog(OPEN_DIALOG, directory=self._last_open_dir, file_types=IMAGE_FILE_TYPES)
        if not picked:
            return None
        path = Path(picked[0])
        self._last_open_dir = path.parent
        return self._upload(path, destination)

    def choose_output_folder(self) -> dict[str, str] | None:
        """Native folder dialog; the server switches its output folder and tells every client."""
        picked = self._dialog(FOLDER_DIALOG, directory=self._studio.outdir)
        if not picked:
            return None
        folder = Path(picked[0]).expanduser()
        if not folder.is_dir():
            raise DesktopError(f"{folder} is not a folder.")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise DesktopError(f"Images cannot be written to {folder}; choose a folder you may write to.")
        new = self._studio.set_outdir(folder)
        log.info("Output folder is now %s", new)
        return {"outdir": str(new)}

    def save_image_as(self, url: str) -> dict[str, str] | None:
        """Native save dialog for one of our images; writes a byte-identical copy where the user says."""
        source = self._output_image(url)
        picked = self._dialog(SAVE_DIALOG, directory=self._last_save_dir, save_filename=source.name)
        if not picked:
            return None
        target = Path(picked[0]).expanduser()
        if not target.suffix:
            target = target.with_suffix(source.suffix)
        self._last_save_dir = target.parent
        if target.resolve() == source.resolve():
            return {"path": str(target)}
        try:
            _copy_atomically(source, target)
        except OSError as exc:
            raise DesktopError(f"Could not save {target.name}: {exc.strerror or exc}.") from None
        log.info("Saved %s as %s", source.name, target)
        return {"path": str(target)}

    def reveal_in_folder(self, url: str) -> dict[str, str]:
        """Shows one of our images in the platform's file manager."""
        path = self._output_image(url)
        command = reveal_command(path)
        try:
            self._launch(command)
        except OSError as exc:
            raise DesktopError(
                f"Could not open the file manager ({command[0]}: {exc.strerror or exc}); the image is in {path.parent}."
            ) from None
        return {"folder": str(path.parent)}

    # -- drops -------------------------------------------------------------------------------

    def watch_drops(self) -> None:
        """Registers the document's drop handler; call after every page load (a reload forgets it).

        It only listens: the page decides what a drop does in the browser (it cancels the default
        for files, which would open the file in place of the studio, and leaves text dropped into
        the prompt alone).
        """
        self._window.dom.document.events.drop += self.handle_drop

    def handle_drop(self, event: dict[str, Any]) -> None:
        """A drop event from the page: upload the first dropped file and make it the initial image, or,
        dropped on a control unit (the page marked the event), that unit's control picture."""
        files = [f for f in (event.get("dataTransfer") or {}).get("files") or [] if isinstance(f, dict)]
        if not files:
            return  # text or a link dragged from a page: nothing of ours to do
        path = self._dropped_path(files)
        if path is None:
            names = ", ".join(str(f.get("name")) for f in files)
            log.warning("Ignored a drop naming %s: the window did not receive that file from the desktop.", names)
            return
        destination, unit = event.get(DROP_DESTINATION_KEY), event.get(DROP_UNIT_KEY)
        try:
            _check_destination(destination)
            if destination == CONTROL_DESTINATION and not (isinstance(unit, str) and unit):
                raise DesktopError(f"A drop for a control picture must name its unit ({DROP_UNIT_KEY}).")
            info = self._upload(path, destination)
        except DesktopError as exc:
            self._report(str(exc))
            return
        if destination == CONTROL_DESTINATION:
            self.dispatch_event(CONTROL_DROPPED_EVENT, {"unit": unit, "image": info})
        else:
            self.dispatch_event("initialImageDropped", info)

    def _dropped_path(self, files: list[dict[str, Any]]) -> Path | None:
        """The first dropped file's full path, as the toolkit delivered it (see DropWitness)."""
        for file in files:
            claimed = file.get("pywebviewFullPath")
            claimed = claimed if isinstance(claimed, str) and claimed else None
            if self._witness is None:
                if claimed:  # back ends without a witness: pywebview's own path is all there is
                    return Path(claimed)
                continue
            name = file.get("name")
            path = self._witness.claim(name, claimed) if isinstance(name, str) else None
            if path is not None:
                if len(files) > 1:
                    log.info("%d files dropped; %s becomes the initial image.", len(files), path.name)
                return path
        return None

    def dispatch_event(self, name: str, detail: Any) -> None:
        """Fires ``CustomEvent(name, {detail})`` on the page's window; name and detail are JSON-encoded."""
        script = f"window.dispatchEvent(new CustomEvent({json.dumps(name)}, {{detail: {json.dumps(detail)}}}));"
        self._window.run_js(script)

    # -- what pywebview exposes ---------------------------------------------------------------

    def functions(self) -> list[Callable[..., Any]]:
        """The page's ``window.pywebview.api``, for ``window.expose``: four plain functions, each
        answering a result, None (cancelled) or ``{error}`` after telling the clients why (the UI
        shows ``error`` events).

        Exposed functions rather than a js_api object: pywebview resolves a call's dotted name
        with getattr on its js_api object, private and dunder names included, so any object
        given as js_api would open a path from the page to whatever it references.
        """
        bridge = self

        def answer(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except UserError as exc:
                message = user_message(exc)
                bridge._report(message)
                return {"error": message}
            except Exception:
                log.exception("A desktop bridge call failed.")
                message = "The desktop window could not do that; the log has the details."
                bridge._report(message)
                return {"error": message}

        def openImage(destination: str | None = None) -> Any:  # noqa: N802 (the page's names)
            return answer(lambda: bridge.open_image(destination))

        def chooseOutputFolder() -> Any:  # noqa: N802
            return answer(bridge.choose_output_folder)

        def saveImageAs(url: str) -> Any:  # noqa: N802
            return answer(lambda: bridge.save_image_as(url))

        def revealInFolder(url: str) -> Any:  # noqa: N802
            return answer(lambda: bridge.reveal_in_folder(url))

        return [openImage, chooseOutputFolder, saveImageAs, revealInFolder]

    # -- helpers -----------------------------------------------------------------------------

    def _title(self, key: str, title: str) -> None:
        """Names the next dialog of this kind (pywebview keeps one title per kind, on the window)."""
        titles = getattr(self._window, "localization", None)
        if isinstance(titles, dict):
            titles[key] = title

    def _dialog(self, kind: int, directory: Path, **options: Any) -> Sequence[str] | None:
        if self._window is None:
            raise DesktopError("The desktop window is not open.")
        picked = self._window.create_file_dialog(kind, directory=str(directory), **options)
        if isinstance(picked, str):  # some back ends answer a bare string for one pick
            picked = [picked]
        return [p for p in picked if p] if picked else None

    def _upload(self, path: Path, destination: str | None = None) -> dict[str, Any]:
        folder = CONTROL_FOLDER if destination == CONTROL_DESTINATION else INIT_FOLDER
        try:
            info = self._studio.upload_file(path, folder)
        except UploadError as exc:
            raise DesktopError(f"{path.name}: {exc}") from None
        return {**info, "destination": destination} if destination else info

    def _output_image(self, url: object) -> Path:
        """The file behind an image URL of ours; anything else is refused."""
        if not isinstance(url, str):
            raise DesktopError("That is not an image URL of this server.")
        path = self._studio.resolve_output_url(url)
        if not is_image_name(path.name):
            raise DesktopError(f"{path.name} is not an image of the gallery.")
        return path

    def _report(self, message: str) -> None:
        log.warning("%s", message)
        self._studio.publisher.broadcast("error", {"message": message})


def _check_destination(destination: object) -> None:
    """A pick or drop goes into the Uploads (None) or is a control picture; anything else is refused."""
    if destination is not None and destination != CONTROL_DESTINATION:
        raise DesktopError(
            f"{destination!r} is not a destination of a picked or dropped file: leave it out (the Uploads) "
            f"or use {CONTROL_DESTINATION!r}."
        )


def _copy_atomically(source: Path, target: Path) -> None:
    """A byte-identical copy that is never half-written under the target's name."""
    atomic_write(source.read_bytes(), target)
