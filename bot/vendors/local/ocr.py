"""The OCR core of the embedded engine: rapidocr on onnxruntime, with the models that ship in its wheel.

Why explicit model paths: rapidocr resolves a missing `model_path` through its model table, which may
download into its package directory. Pointing every stage at the files already installed means the
engine either starts from what is on disk or fails loudly; it never reaches for the network.

Why one engine per process behind a lock: loading the three ONNX sessions costs memory (~200 MB) and
time, and two recognitions running the same sessions at once only fight over the same cores. Callers
run `read`/`read_crop` in a worker thread; the lock makes those threads queue instead of oversubscribe.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bot.vendors.local.engine_queue import stop_if_given_up

#: Which file in the rapidocr models directory serves which stage, best first. PP-OCRv6 small ships
#: in rapidocr 3.10; older 3.x wheels carry PP-OCRv4/v5 mobile files under similar names.
MODEL_PATTERNS: dict[str, tuple[str, ...]] = {
    "det": ("PP-OCRv6_det_small.onnx", "*v6*det*.onnx", "*v5*det*.onnx", "*det*.onnx"),
    "cls": ("ch_ppocr_mobile_v2.0_cls_mobile.onnx", "*cls*.onnx"),
    "rec": ("PP-OCRv6_rec_small.onnx", "*v6*rec*.onnx", "*v5*rec*.onnx", "*rec*.onnx"),
}

#: Detection works on images whose long side is at most this; a licence photo's text stays legible.
DET_LIMIT_SIDE = 960


#: Whether a detected line (its four corners, in the photo's pixels) is worth recognizing.
LineFilter = Callable[[np.ndarray], bool]

#: Shared by every engine in the process: two models on 2 cores at once only slow each other down.
_CPU_LOCK = threading.Lock()


class EngineUnavailable(RuntimeError):
    """The OCR models or runtime are missing from this installation."""


class EngineFailure(RuntimeError):
    """The OCR runtime failed on an image (an onnxruntime or OpenCV error inside rapidocr)."""


@contextmanager
def _model_call() -> Iterator[None]:
    """One call into the models: the shared lock; then a read that was given up stops here, because
    nothing stops a call once inside the models; then the runtime's errors as one type."""
    with _CPU_LOCK:
        stop_if_given_up()
        with _engine_errors():
            yield


@contextmanager
def _engine_errors() -> Iterator[None]:
    """rapidocr lets onnxruntime's and OpenCV's own exceptions through; callers get one type instead."""
    try:
        yield
    except Exception as exc:
        raise EngineFailure(f"{type(exc).__name__}: {exc}") from exc


Point = tuple[float, float]


@dataclass(frozen=True)
class OcrLine:
    """One text line as OCR read it: text, recognition score 0..1 and its quadrilateral (clockwise)."""

    text: str
    score: float
    points: tuple[Point, Point, Point, Point]

    @classmethod
    def from_rect(cls, text: str, score: float, x0: float, y0: float, x1: float, y1: float) -> OcrLine:
        return cls(text, score, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))

    @cached_property
    def x0(self) -> float:
        return min(x for x, _ in self.points)

    @cached_property
    def x1(self) -> float:
        return max(x for x, _ in self.points)

    @cached_property
    def y0(self) -> float:
        return min(y for _, y in self.points)

    @cached_property
    def y1(self) -> float:
        return max(y for _, y in self.points)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def mapped(self, scale: float, dx: float = 0.0, dy: float = 0.0) -> OcrLine:
        """The same line in another pixel space: `point * scale + offset`."""
        points = tuple((x * scale + dx, y * scale + dy) for x, y in self.points)
        return OcrLine(self.text, self.score, points)  # type: ignore[arg-type]

    def to_raw(self) -> dict[str, Any]:
        """JSON-ready form for the session log's raw answer."""
        return {
            "text": self.text,
            "score": round(self.score, 4),
            "box": [[round(x, 1), round(y, 1)] for x, y in self.points],
        }

    @classmethod
    def from_raw(cls, entry: dict[str, Any]) -> OcrLine:
        """The line `to_raw` wrote (its box rounded to a tenth of a pixel)."""
        first, second, third, fourth = ((float(x), float(y)) for x, y in entry["box"])
        return cls(entry["text"], float(entry["score"]), (first, second, third, fourth))


def models_dir() -> Path:
    """The installed rapidocr package's own models directory (located without importing rapidocr)."""
    import importlib.util

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable("rapidocr is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_paths(directory: Path | None = None) -> dict[str, Path]:
    """The det/cls/rec model files on disk; raises EngineUnavailable instead of letting rapidocr fetch."""
    directory = directory or models_dir()
    found: dict[str, Path] = {}
    for stage, patterns in MODEL_PATTERNS.items():
        for pattern in patterns:
            matches = sorted(path for path in directory.glob(pattern) if path.stat().st_size > 0)
            if matches:
                found[stage] = matches[0]
                break
        else:
            raise EngineUnavailable(f"no {stage} model in {directory}")
    return found


def line_length(corners: np.ndarray) -> float:
    """A detected line's length in its own heights (about its glyph count), read either way round."""
    along = (np.linalg.norm(corners[1] - corners[0]) + np.linalg.norm(corners[2] - corners[3])) / 2
    across = (np.linalg.norm(corners[3] - corners[0]) + np.linalg.norm(corners[2] - corners[1])) / 2
    short, long = sorted((float(along), float(across)))
    return long / short if short > 0 else float("inf")


class OcrEngine:
    """rapidocr behind a lock; every call passes all stage switches, because rapidocr keeps them."""

    def __init__(self, threads: int = 0) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EngineUnavailable(f"rapidocr cannot be imported: {exc}") from exc
        paths = model_paths()
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Det.model_path": str(paths["det"]),
            "Cls.model_path": str(paths["cls"]),
            "Rec.model_path": str(paths["rec"]),
            # Two lines per recognizer run: as fast as six on two cores, and a third of the peak
            # memory when a batch holds long lines (addresses), which keeps the process under 700 MB.
            "Rec.rec_batch_num": 2,
            "Det.limit_type": "max",
            "Det.limit_side_len": DET_LIMIT_SIDE,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads if threads > 0 else -1,
        }
        self._ocr = RapidOCR(params=params)
        self._alphabet_cache: tuple[str, ...] | None = None
        self.model_files = {stage: path.name for stage, path in paths.items()}

    def warm_up(self) -> None:
        """Create the three ONNX sessions now (rapidocr creates them on first use) and run each once,
        because onnxruntime's first inference pays for memory planning that later ones reuse."""
        with _CPU_LOCK:
            self._ocr._load_det_model()
            self._ocr._load_cls_model()
            self._ocr._load_rec_model()
        blank = np.full((64, 256, 3), 255, np.uint8)
        blank[24:40, 32:224] = 0
        self.read(blank)
        self.read_crop(blank, orient=True)

    def read(
        self,
        image: np.ndarray,
        det_limit: int = DET_LIMIT_SIDE,
        *,
        wanted: LineFilter | None = None,
        max_lines: int | None = None,
        max_length: float | None = None,
    ) -> list[OcrLine]:
        """Detect, orient and recognize every text line of a BGR image.

        `det_limit` caps the long side detection works at: small text (plates in a street scene) needs
        more pixels than a card filling the frame, and detection time grows with the pixel count.

        Recognition costs far more than detection, and in proportion to a line's length, so a caller
        that knows which detected lines it can use passes `wanted` (given each line's four corners),
        `max_lines` and `max_length` (lines kept in detection order until their lengths, each in its
        own heights, about its glyphs, add up to this): a photographed page of dense text sent for a
        plate held hundreds of lines, and reading them all took half a minute while other users waited.
        """
        with _model_call():
            # rapidocr reads the limit on every call but offers no per-call argument for it.
            self._ocr._load_det_model().limit_side_len = det_limit
            if wanted is None and max_lines is None and max_length is None:
                result = self._ocr(image, use_det=True, use_cls=True, use_rec=True)
            else:
                result = self._read_chosen(image, wanted, max_lines, max_length)
        boxes = getattr(result, "boxes", None)
        texts = getattr(result, "txts", None)
        scores = getattr(result, "scores", None)
        if boxes is None or texts is None or scores is None or len(boxes) == 0:
            return []
        lines = []
        for box, text, score in zip(boxes, texts, scores, strict=False):
            points = tuple((float(x), float(y)) for x, y in np.asarray(box).reshape(-1, 2)[:4])
            if text.strip():
                lines.append(OcrLine(text.strip(), float(score), points))  # type: ignore[arg-type]
        return lines

    def _read_chosen(
        self, image: np.ndarray, wanted: LineFilter | None, max_lines: int | None, max_length: float | None
    ) -> Any:
        """rapidocr's own detect, classify, recognize steps (`RapidOCR.run_ocr_steps`), with the
        detected lines narrowed down before the two costly steps. Its result is built as rapidocr
        builds it, so boxes come back in the photo's coordinates and weak reads are dropped alike."""
        from rapidocr.main import RapidOCRError
        from rapidocr.utils.output import RapidOCROutput
        from rapidocr.utils.process_img import map_boxes_to_original

        ocr = self._ocr
        ocr.update_params(use_det=True, use_cls=True, use_rec=True)
        original = ocr.load_img(image)
        prepared, record = ocr.preprocess_img(original)
        try:
            crops, detected = ocr.detect_and_crop(prepared, record)
        except RapidOCRError:  # nothing detected
            return RapidOCROutput()
        height, width = original.shape[:2]
        corners = map_boxes_to_original(np.array(detected.boxes, dtype=np.float32), record, height, width)
        keep: list[int] = []
        length = 0.0
        for index, box in enumerate(corners):
            own_length = line_length(box)
            if (wanted is not None and not wanted(box)) or not math.isfinite(own_length):
                continue  # a box collapsed to a line has no height to read, and no length to count
            length += own_length
            if len(keep) == (max_lines or -1) or length > (max_length or math.inf):
                break
            keep.append(index)
        if not keep:
            return RapidOCROutput()
        detected.boxes = detected.boxes[keep]
        detected.scores = [detected.scores[index] for index in keep]
        crops = [crops[index] for index in keep]
        turned, classified = ocr.cls_and_rotate(crops)
        recognized = ocr.recognize_txt(turned)
        return ocr.build_final_output(original, detected, classified, recognized, crops, record)

    def read_crop(self, image: np.ndarray, *, orient: bool = False) -> tuple[str, float]:
        """Recognize a BGR image that is one text line already (a tight plate crop): no detection."""
        with _model_call():
            result = self._ocr(image, use_det=False, use_cls=orient, use_rec=True)
        texts = getattr(result, "txts", None)
        scores = getattr(result, "scores", None)
        if not texts or not scores:
            return "", 0.0
        return str(texts[0]).strip(), float(scores[0])

    def _alphabet(self, characters: list[str]) -> tuple[str, ...]:
        """The recognizer's alphabet as one tuple for the engine's life: decoders cache their column
        lookups per alphabet object, and a fresh tuple per line made them rebuild a 6,600-entry index
        every time."""
        if self._alphabet_cache is None:
            self._alphabet_cache = tuple(characters)
        return self._alphabet_cache

    def upside_down(self, image: np.ndarray) -> bool:
        """Whether a one-line crop stands on its head, by PP-OCR's own 0/180 text classifier (at the
        certainty rapidocr itself needs before it turns a detected line)."""
        with _model_call():
            classifier = self._ocr._load_cls_model()
            label, score = classifier([image]).cls_res[0]
        return "180" in label and score >= classifier.cls_thresh

    def read_crop_chars(self, image: np.ndarray) -> CropReading:
        """Like `read_crop`, but keeping the recognizer's per-step character probabilities, so a caller
        that knows what may stand where (a plate's province, its letter) can decode under that grammar."""
        with _model_call():
            recognizer = self._ocr._load_rec_model()
            _channels, height, width = recognizer.rec_image_shape
            ratio = max(width / height, image.shape[1] / max(image.shape[0], 1))
            batch = recognizer.resize_norm_img(image, ratio)[np.newaxis].astype(np.float32)
            probs = np.asarray(recognizer.session(batch))[0]
            alphabet = self._alphabet(recognizer.postprocess_op.character)
        # resize_norm_img pads a short line on the right up to the width `ratio` asks for.
        padded_width = int(height * ratio)
        image_width = min(padded_width, int(np.ceil(height * image.shape[1] / max(image.shape[0], 1))))
        return CropReading.decode(probs, alphabet, coverage=image_width / padded_width)


@dataclass(frozen=True)
class CharRead:
    """One character of a CTC greedy decode and the time steps it spans."""

    char: str
    prob: float
    start: int
    end: int


@dataclass(frozen=True)
class CropReading:
    """A recognized line with its distribution: `probs[t, k]` is the chance of `alphabet[k]` at step t
    (index 0 is the CTC blank)."""

    chars: tuple[CharRead, ...]
    probs: np.ndarray
    alphabet: tuple[str, ...]
    #: Share of the time steps that lie on the image; the recognizer pads a short line on the right.
    coverage: float = 1.0

    def char_probs(self, char: CharRead) -> np.ndarray:
        """What the recognizer gave each character of its alphabet over `char`'s steps (the best step
        for each): where a second choice the greedy decode dropped shows."""
        return self.probs[char.start : char.end + 1].max(axis=0)

    def x_of(self, step: float, width: int) -> int:
        """Where time step `step` falls on the read image, `width` pixels wide."""
        return round(step * width / (len(self.probs) * self.coverage))

    @classmethod
    def decode(
        cls, probs: np.ndarray, alphabet: list[str] | tuple[str, ...], coverage: float = 1.0
    ) -> CropReading:
        best = probs.argmax(axis=1)
        chars: list[CharRead] = []
        previous = 0
        for step, index in enumerate(best):
            if index != 0 and index == previous and chars:
                last = chars[-1]
                chars[-1] = CharRead(last.char, max(last.prob, float(probs[step, index])), last.start, step)
            elif index != 0:
                chars.append(CharRead(alphabet[index], float(probs[step, index]), step, step))
            previous = index
        kept = alphabet if isinstance(alphabet, tuple) else tuple(alphabet)  # the same object, if it is one
        return cls(tuple(chars), probs, kept, coverage)

    @property
    def text(self) -> str:
        return "".join(char.char for char in self.chars)

    @property
    def score(self) -> float:
        return float(np.mean([char.prob for char in self.chars])) if self.chars else 0.0


_ENGINES: dict[int, OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def shared_engine(threads: int = 0) -> OcrEngine:
    """The process-wide engine for this thread count, loaded on first use."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(threads)
        if engine is None:
            engine = OcrEngine(threads)
            engine.warm_up()
            _ENGINES[threads] = engine
        return engine
