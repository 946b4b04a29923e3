"""Frame encoders for the animator: each takes RGBA frames one at a time and streams them
into its file, so memory stays the same whatever the number of frames.

- :class:`GifEncoder`: one shared palette (taken from the first frame plus the colours
  the caller names), no dithering, and after the first frame only the pixels that
  changed (the rest transparent), which keeps a large animation small.
- :class:`Mp4Encoder`: raw frames piped into ``ffmpeg`` (H.264).
- :class:`HtmlEncoder`: a self-contained page (or notebook fragment) with a player:
  PNG frames inline, a slider and a Play/Pause button.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from typing import IO, Any, Protocol

import numpy as np

TRANSPARENT = 255  # the palette index left out of the quantised colours, for unchanged pixels
FFMPEG_HINT = "MP4 needs ffmpeg on PATH (Debian/Ubuntu: apt-get install ffmpeg, macOS: brew install ffmpeg)"


class FrameEncoder(Protocol):
    """Takes frames as ``(height, width, 4)`` uint8 RGBA arrays, in order."""

    def add(self, rgba: np.ndarray, hold: int = 1) -> None:
        """Append a frame shown for ``hold`` frame durations."""

    def close(self) -> None:
        """Finish the file."""


class SharedPalette:
    """At most 255 colours chosen once from ``sample`` (an RGB image) plus ``colours``;
    :meth:`index` maps any RGB frame onto them without dithering (flat colours stay flat)."""

    def __init__(self, sample: np.ndarray, colours: Sequence[str] = ()) -> None:
        from matplotlib.colors import to_rgb
        from PIL import Image

        height, width = sample.shape[:2]
        rows = [sample]
        if colours:
            # a band of swatches as tall as a tenth of the frame, so quantising weighs them
            band = np.empty((max(8, height // 10), width, 3), np.uint8)
            edges = np.linspace(0, width, len(colours) + 1).astype(int)
            for colour, left, right in zip(colours, edges[:-1], edges[1:]):
                band[:, left:right] = np.round(np.array(to_rgb(colour)) * 255)
            rows.append(band)
        source = Image.fromarray(np.ascontiguousarray(np.concatenate(rows)), "RGB")
        quantised = source.quantize(colors=TRANSPARENT, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        palette = quantised.getpalette() or []
        palette = (palette + [0] * 768)[:768]
        self.image = Image.new("P", (1, 1))
        self.image.putpalette(palette)
        self.rgb = bytes(palette)

    def index(self, rgba: np.ndarray) -> np.ndarray:
        """The palette index of every pixel of an RGB or RGBA frame, shape ``(height, width)``."""
        return np.asarray(self.quantise(rgba))

    def quantise(self, rgba: np.ndarray) -> Any:
        """The frame as a palette image (Pillow ``P`` mode) on these colours."""
        from PIL import Image

        frame = _as_image(rgba)
        if frame.mode != "RGB":
            frame = frame.convert("RGB")
        return frame.quantize(palette=self.image, dither=Image.Dither.NONE)


def _as_image(pixels: np.ndarray) -> Any:
    """A Pillow image on the frame's own memory when it is contiguous (no copy)."""
    from PIL import Image

    mode = {3: "RGB", 4: "RGBA"}[pixels.shape[2]]
    if pixels.flags.c_contiguous:
        size = (pixels.shape[1], pixels.shape[0])
        return Image.frombuffer(mode, size, pixels, "raw", mode, 0, 1)
    return Image.fromarray(np.ascontiguousarray(pixels), mode)


class GifEncoder:
    """Writes a looping GIF to ``stream`` frame by frame (see the module docstring)."""

    def __init__(self, stream: IO[bytes], fps: float, colours: Sequence[str] = ()) -> None:
        self.stream, self.fps, self.colours = stream, fps, tuple(colours)
        self.palette: SharedPalette | None = None
        self.previous: np.ndarray | None = None
        self.frames = 0

    def add(self, rgba: np.ndarray, hold: int = 1) -> None:
        """Quantise the frame, keep only what changed since the last one, and write it."""
        from PIL import GifImagePlugin, Image

        if self.palette is None:
            self.palette = SharedPalette(rgba[..., :3], self.colours)
            self._write_header(rgba.shape[1], rgba.shape[0])
        indices = self.palette.index(rgba)
        offset = (0, 0)
        if self.previous is None:
            changed_part = indices
        else:
            changed = indices != self.previous
            rows, columns = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            if rows.size == 0:  # an identical frame: one unchanged pixel
                rows, columns = np.array([0]), np.array([0])
            top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
            changed_part = np.where(changed[top:bottom, left:right], indices[top:bottom, left:right], TRANSPARENT)
            offset = (int(left), int(top))
        self.previous = indices
        image = Image.fromarray(np.ascontiguousarray(changed_part, dtype=np.uint8), "P")
        duration = round(1000 * max(hold, 1) / self.fps)
        for chunk in GifImagePlugin.getdata(image, offset, duration=duration, transparency=TRANSPARENT, disposal=1):
            self.stream.write(chunk)
        self.frames += 1

    def _write_header(self, width: int, height: int) -> None:
        assert self.palette is not None
        self.stream.write(b"GIF89a" + _u16(width) + _u16(height))
        self.stream.write(bytes([0xF7, 0, 0]))  # a global table of 256 colours, background 0, square pixels
        self.stream.write(self.palette.rgb)
        self.stream.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + _u16(0) + b"\x00")  # loop forever

    def close(self) -> None:
        """Write the GIF trailer."""
        if self.palette is None:
            raise ValueError("a GIF needs at least one frame")
        self.stream.write(b";")


def _u16(number: int) -> bytes:
    return int(number).to_bytes(2, "little")


def ffmpeg_path() -> str | None:
    """The ffmpeg program matplotlib is configured to use, when it is on PATH."""
    from matplotlib import rcParams

    return shutil.which(rcParams["animation.ffmpeg_path"])


class Mp4Encoder:
    """Pipes raw RGBA frames into ``ffmpeg``, which writes an H.264 MP4 to ``path``."""

    def __init__(self, path: str, fps: float) -> None:
        self.path, self.fps = path, fps
        self.process: subprocess.Popen[bytes] | None = None
        self.errors = tempfile.TemporaryFile()

    def _start(self, width: int, height: int) -> subprocess.Popen[bytes]:
        program = ffmpeg_path()
        if program is None:
            raise RuntimeError(FFMPEG_HINT)
        command = [
            program, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{width}x{height}",
            "-r", f"{self.fps:g}", "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-vcodec", "libx264",
            "-pix_fmt", "yuv420p", "-f", "mp4", self.path,
        ]  # fmt: skip
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.errors)

    def add(self, rgba: np.ndarray, hold: int = 1) -> None:
        """Send the frame to ffmpeg (``hold`` times)."""
        if self.process is None:
            self.process = self._start(rgba.shape[1], rgba.shape[0])
        assert self.process.stdin is not None
        data = np.ascontiguousarray(rgba).tobytes()
        try:
            for _ in range(max(hold, 1)):
                self.process.stdin.write(data)
        except BrokenPipeError:  # ffmpeg stopped early: report its own reason
            self.close()
            raise

    def close(self) -> None:
        """Wait for ffmpeg; raise with its message when it failed."""
        if self.process is None:
            raise ValueError("an MP4 needs at least one frame")
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # the exit status below says what happened
        status = self.process.wait()
        self.errors.seek(0)
        message = self.errors.read().decode("utf-8", "replace").strip()
        self.errors.close()
        if status != 0:
            raise RuntimeError(f"ffmpeg failed (exit {status}): {message.splitlines()[-1] if message else ''}")


PLAYER_SCRIPT = """
(function () {
  var root = document.getElementById("%(id)s"), frames = %(name)s;
  var image = root.querySelector("img"), slider = root.querySelector("input");
  var button = root.querySelector("button"), label = root.querySelector("span");
  var holds = %(holds)s, index = 0, timer = null;
  slider.max = frames.length - 1;
  function show(i) {
    index = i; image.src = frames[i]; slider.value = i; label.textContent = (i + 1) + " / " + frames.length;
  }
  function tick() {
    show((index + 1) %% frames.length); timer = setTimeout(tick, %(interval)d * (holds[index] || 1));
  }
  function play() {
    if (timer === null) { timer = setTimeout(tick, %(interval)d); button.textContent = "Pause"; }
  }
  function pause() { clearTimeout(timer); timer = null; button.textContent = "Play"; }
  button.onclick = function () { if (timer === null) { play(); } else { pause(); } };
  slider.oninput = function () { pause(); show(Number(slider.value)); };
  show(0); play();
})();
"""


class HtmlEncoder:
    """Streams a player into ``stream``: ``fragment=True`` gives a ``<div>`` + ``<script>``
    for a notebook, otherwise a whole HTML page. Frames are palette PNGs, base64 inline."""

    def __init__(self, stream: IO[str], fps: float, *, title: str = "animation", fragment: bool = False) -> None:
        self.stream, self.fps, self.title, self.fragment = stream, fps, title, fragment
        self.id = "graphdl-" + uuid.uuid4().hex[:12]
        self.name = "frames_" + self.id.replace("-", "_")
        self.palette: SharedPalette | None = None
        self.holds: dict[int, int] = {}
        self.frames = 0

    def add(self, rgba: np.ndarray, hold: int = 1) -> None:
        """Encode the frame as a PNG and write it into the page."""

        if self.palette is None:
            self.palette = SharedPalette(rgba[..., :3])
            self._start()
        image = self.palette.quantise(rgba)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=6)
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        self.stream.write(f'"data:image/png;base64,{encoded}",\n')
        if hold > 1:
            self.holds[self.frames] = hold
        self.frames += 1

    def _start(self) -> None:
        from html import escape

        if not self.fragment:
            self.stream.write(f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(self.title)}</title>')
            self.stream.write("</head><body>\n")
        self.stream.write(
            f'<div id="{self.id}" style="font-family: sans-serif"><img alt="{escape(self.title)}" '
            'style="max-width: 100%; display: block"><div><button>Pause</button> '
            '<input type="range" min="0" value="0" style="width: 60%; vertical-align: middle"> '
            "<span></span></div></div>\n"
            f"<script>\nvar {self.name} = [\n"
        )

    def close(self) -> None:
        """Close the frame list and add the player script."""
        if self.palette is None:
            raise ValueError("an HTML player needs at least one frame")
        holds = "{" + ", ".join(f"{key}: {value}" for key, value in self.holds.items()) + "}"
        script = PLAYER_SCRIPT % {"id": self.id, "name": self.name, "holds": holds, "interval": round(1000 / self.fps)}
        self.stream.write("];\n" + script + "</script>\n")
        if not self.fragment:
            self.stream.write("</body></html>\n")


def swatch_colours(*groups: Sequence[Any]) -> list[str]:
    """Flatten colour groups (names, hex strings or RGBA tuples) into hex strings."""
    from matplotlib.colors import to_hex

    return [to_hex(colour) for group in groups for colour in group]
