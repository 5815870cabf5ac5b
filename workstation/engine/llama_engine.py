"""The llama-cpp-python engine: load a GGUF model, build prompts, stream tokens, reuse evaluated state.

One `LlamaEngine` owns one `llama_cpp.Llama` and must be used from one thread (a GUI worker
thread, say); only `threading.Event.set()` on a stop event may come from another thread.

Prompt reuse: every branch of the session stays in the one context as a sequence sharing the
KV cells of its common prefix with the others (see branches), so regenerating, continuing or
challenging from any step of any live branch evaluates only what is new, and a branch costs
about the KV of its own tokens. When the cells run short, the least recently used branches move
to host memory (their own cells only) and come back without a prefill. Models whose memory
cannot share cells (recurrent ones), or `shared_prefix=False`, use the older scheme instead:
every generation ends by snapshotting the whole context state into a memory-bounded LRU cache
(see state_cache) and a later prompt restores the snapshot sharing the longest prefix with it.

Token log-probabilities come from the logits llama.cpp already keeps for the last position
(`llama_get_logits_ith(ctx, -1)`), read in place right after each token is sampled: no
`logits_all=True` (n_ctx x vocabulary floats, about 800 MB for SmolLM2 at 4,096 tokens) and no
per-token copy. The only extra memory is one scratch vector of n_vocab float32 (192 KiB for
SmolLM2's 49,152 tokens), reused for every token.
"""

from __future__ import annotations

import codecs
import ctypes
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import llama_cpp
import numpy as np

from workstation.engine.branches import BranchStats, BranchStore, check_batch, open_shared_context, split_budget
from workstation.engine.errors import ContextOverflowError, EmptyPromptError, UnsupportedModelError
from workstation.engine.events import FinishEvent, FinishReason, GenerationEvent, SamplingParams, TokenEvent
from workstation.engine.gguf_info import GGUFInfo, read_gguf_info
from workstation.engine.kv_layout import KV_CACHE_TYPES, KVShape, check_kv_cache_type, kv_shape
from workstation.engine.prompt import ChatPrompter
from workstation.engine.protocol import ChatMessage, Prompt
from workstation.engine.snapshot_reuse import SnapshotReuse
from workstation.engine.state_cache import CacheStats
from workstation.errors import BadInputError, ModelFileError

#: Default cap on the context window: the model's trained context can be far larger (SmolLM2:
#: 8,192) and the KV cache grows with it.
DEFAULT_N_CTX_CAP = 4096
DEFAULT_CACHE_BUDGET = 512 * 1024 * 1024


class LoadOverrides(TypedDict, total=False):
    """LoadOptions fields given by name, as `Review.load_model(**options)` takes them."""

    n_gpu_layers: int
    n_ctx: int | None
    n_ctx_cap: int
    n_threads: int | None
    seed: int
    cache_budget_bytes: int
    n_batch: int
    kv_cache_type: str
    shared_prefix: bool


#: How many likeliest tokens each TokenEvent carries as `alternatives` (the token view's list).
TOP_TOKENS = 5
#: Log-probability distance from the likeliest token within which the top ones are looked for.
TOP_WINDOW = 10.0


def gpu_offload_supported() -> bool:
    """Whether the installed llama-cpp-python build can offload layers to a GPU."""
    return bool(llama_cpp.llama_supports_gpu_offload())


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model.

    n_gpu_layers: 0 = CPU only, -1 = all layers, N = the first N layers on the GPU.
    n_ctx: the context window in tokens; None = the smaller of the model's trained context and
    `n_ctx_cap`. n_threads: None = half the CPUs for decoding and all for prompt evaluation.
    seed: llama.cpp's context seed (each generation's sampling seed is in SamplingParams).
    cache_budget_bytes: the memory branches may hold beyond the prompt's own context (extra
    KV cells and host copies of evicted branches; or the snapshot cache's size).
    kv_cache_type: "f16" or "q8_0" (about half the memory per token, slightly other numbers).
    shared_prefix: branches as sequences sharing their prefix (False: whole-state snapshots).
    """

    model_path: Path
    n_gpu_layers: int = 0
    n_ctx: int | None = None
    n_ctx_cap: int = DEFAULT_N_CTX_CAP
    n_threads: int | None = None
    seed: int = 0
    cache_budget_bytes: int = DEFAULT_CACHE_BUDGET
    n_batch: int = 512
    kv_cache_type: str = "f16"
    shared_prefix: bool = True


class TextDecoder:
    """Turns tokens into text one at a time without ever splitting a UTF-8 character.

    A token may carry only part of a character's bytes (byte-fallback tokens for emoji and CJK):
    `push` then returns "" and the next token's text starts with the completed character.
    """

    def __init__(self, token_bytes: Callable[[int], bytes]) -> None:
        self._token_bytes = token_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token: int) -> str:
        """The whole characters completed by this token."""
        return self._decoder.decode(self._token_bytes(token))

    def flush(self) -> str:
        """What is left at the end: U+FFFD for a character the generation cut short."""
        return self._decoder.decode(b"", final=True)


class LlamaEngine:
    """The `Engine` (see protocol) backed by one llama_cpp.Llama; the module docstring tells the reuse scheme."""

    def __init__(self, options: LoadOptions) -> None:
        path = Path(options.model_path)
        # Validate the whole header in Python first: llama.cpp trusts what it reads.
        self.info: GGUFInfo = read_gguf_info(path)
        # The file as loaded, held open: the weights in use are this file's even when its path
        # is deleted or replaced, and its hash is read from here.
        try:
            self._file = path.open("rb")
        except OSError as exc:
            raise ModelFileError(f"could not open {path}: {exc.strerror}; check the file and load it again") from exc
        self._loaded = _identity(os.fstat(self._file.fileno()))
        try:
            self._load(path, options)
        except BaseException:
            self._file.close()
            raise

    def _load(self, path: Path, options: LoadOptions) -> None:
        self.options = options
        self.notices: list[str] = []
        self.n_ctx = self._choose_n_ctx(options, self.info)
        n_threads = options.n_threads or max(1, (os.cpu_count() or 2) // 2)
        n_threads_batch = options.n_threads or (os.cpu_count() or 1)
        if n_threads < 1:
            raise BadInputError(f"n_threads must be at least 1, not {n_threads}")
        kv_type = KV_CACHE_TYPES[check_kv_cache_type(options.kv_cache_type)]

        self.gpu_offload_supported = gpu_offload_supported()
        self.n_gpu_layers = options.n_gpu_layers
        if options.n_gpu_layers < -1:
            raise BadInputError(f"n_gpu_layers must be -1 (all), 0 (CPU) or a layer count, not {options.n_gpu_layers}")
        if options.n_gpu_layers != 0 and not self.gpu_offload_supported:
            self.n_gpu_layers = 0
            self.notices.append(
                f"GPU offload was requested (n_gpu_layers={options.n_gpu_layers}) but this "
                "llama-cpp-python build is CPU-only, so the model runs on the CPU; rebuild with "
                "`make setup GPU=cuda` (or metal, vulkan) to use a GPU."
            )

        try:
            self._llm = llama_cpp.Llama(
                model_path=str(path),
                n_gpu_layers=self.n_gpu_layers,
                n_ctx=self.n_ctx,
                n_batch=min(options.n_batch, self.n_ctx),
                n_threads=n_threads,
                n_threads_batch=n_threads_batch,
                seed=options.seed,
                logits_all=False,
                type_k=kv_type,
                type_v=kv_type,
                # llama.cpp quantises the V cache only with flash attention; f16 keeps the
                # kernels (and numbers) it always had.
                flash_attn=options.kv_cache_type != "f16",
                # Read into memory, not mapped: a mapped file that is overwritten or truncated
                # in place (`cp new.gguf over.gguf`) while a generation reads it kills the
                # process with SIGBUS. Reading costs ~0.07 s for SmolLM2; offloaded layers go
                # straight to the GPU either way.
                use_mmap=False,
                verbose=False,
            )
        except ValueError as exc:
            # llama.cpp logs why and returns NULL; llama-cpp-python turns that into ValueError.
            if "context" in str(exc):
                raise ModelFileError(
                    f"{path}: the model loaded but a {self.n_ctx:,}-token context could not be "
                    "created; try a smaller context size"
                ) from None
            raise UnsupportedModelError(
                f"{path}: llama-cpp-python {llama_cpp.__version__} cannot load this model: its "
                f"architecture '{self.info.architecture}' is not supported by this build or its "
                "tensors do not match it; use a supported model or a newer llama-cpp-python"
            ) from None

        model = self._llm._model
        self.kv_cache_type = options.kv_cache_type
        self.kv_bytes_per_token = _kv_shape(self.info, model.model).bytes_per_token(options.kv_cache_type)
        self._branches: BranchStore | None = None
        if options.shared_prefix and not (self._llm._is_recurrent or self._llm._is_hybrid):
            n_cells, host_budget = split_budget(options.cache_budget_bytes, self.n_ctx, self.kv_bytes_per_token)
            try:
                open_shared_context(self._llm, n_cells)
            except ValueError:
                self._llm.close()
                raise ModelFileError(
                    f"{path}: a context of {n_cells:,} cells for branches could not be created; lower "
                    "the cache budget (model.cache_mb) or the context size"
                ) from None
            self._branches = BranchStore(self._llm, llama_cpp.llama_n_seq_max(self._llm.ctx), n_cells,
                                         self.kv_bytes_per_token, host_budget)
        self._vocab = model.vocab
        self.n_vocab = self._llm.n_vocab()
        self._scratch = np.empty(self.n_vocab, dtype=np.float32)
        self._logits: np.ndarray = self._scratch
        self._logits_at = 0
        self._log_norm = 0.0
        self._log_max = 0.0
        self._piece_buffer = ctypes.create_string_buffer(64)
        self._prompter = ChatPrompter(
            self.info.chat_template,
            self._tokenize,
            bos_token=self._token_text(self._llm.token_bos()),
            eos_token=self._token_text(self._llm.token_eos()),
        )
        if not self._prompter.has_model_template:
            self.notices.append(
                f"{path.name} has no chat template; prompts use plain 'Question:/Answer:' text."
            )
        self._snapshots = SnapshotReuse(self._llm, options.cache_budget_bytes)
        self._reuse: BranchStore | SnapshotReuse = self._branches or self._snapshots
        self._busy = False

    # -- loading ---------------------------------------------------------------------------

    @staticmethod
    def _choose_n_ctx(options: LoadOptions, info: GGUFInfo) -> int:
        if options.n_ctx is not None:
            if options.n_ctx < 16:
                raise BadInputError(f"n_ctx must be at least 16 tokens, not {options.n_ctx}")
            return options.n_ctx
        trained = info.context_length or options.n_ctx_cap
        return max(16, min(trained, options.n_ctx_cap))

    def _token_text(self, token: int) -> str:
        return self._llm._model.token_get_text(token) if token >= 0 else ""

    # -- tokens ------------------------------------------------------------------------------

    def _tokenize(self, text: str, special: bool) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def tokenize(self, text: str) -> tuple[int, ...]:
        """The model's tokens for plain text (no BOS, control markers stay text)."""
        return tuple(self._tokenize(text, False))

    def token_bytes(self, token: int) -> bytes:
        """The raw bytes a token stands for (may be part of a UTF-8 character)."""
        buffer = self._piece_buffer
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        if n < 0:
            self._piece_buffer = buffer = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        return buffer.raw[:n]

    def text_decoder(self) -> TextDecoder:
        """A fresh incremental decoder from tokens to whole characters (see TextDecoder)."""
        return TextDecoder(self.token_bytes)

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text for a token sequence (invalid UTF-8 replaced)."""
        return b"".join(self.token_bytes(t) for t in tokens).decode("utf-8", errors="replace")

    # -- prompts -----------------------------------------------------------------------------

    def build_prompt(self, messages: Sequence[ChatMessage], continuation: Sequence[str] = ()) -> Prompt:
        """Render messages with the model's chat template, then append assistant text to continue.

        `continuation` holds the assistant's text so far as pieces (say, steps 1..k with their
        separators), concatenated verbatim; each piece is tokenised separately, so the prompt
        for steps 1..k is a token prefix of the prompt for steps 1..k+1.
        """
        return self._prompter.build(messages, continuation)

    def extend_prompt(self, prompt: Prompt, pieces: Sequence[str]) -> Prompt:
        """`prompt` followed by more assistant text, its earlier tokens unchanged."""
        return self._prompter.extend(prompt, pieces)

    def render_text(self, messages: Sequence[ChatMessage]) -> str:
        """The rendered conversation head as text (for logs and exports)."""
        return self._prompter.render_head(messages)

    # -- generation --------------------------------------------------------------------------

    def check_fits(self, prompt: Prompt, max_tokens: int) -> None:
        """Raise ContextOverflowError unless the prompt plus max_tokens fits in n_ctx."""
        n = len(prompt.tokens)
        if n == 0:
            raise EmptyPromptError("the prompt is empty: give a question or a message with some text")
        if n + max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"the prompt has {n:,} tokens and up to {max_tokens:,} more were requested "
                f"({n + max_tokens:,} in all), but the context holds {self.n_ctx:,}; shorten the "
                "prompt, lower max tokens or load the model with a larger context",
                prompt_tokens=n, max_tokens=max_tokens, n_ctx=self.n_ctx,
            )

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams = SamplingParams(),
        stop: threading.Event | None = None,
    ) -> Iterator[GenerationEvent]:
        """Stream a completion of `prompt`: TokenEvents, then exactly one FinishEvent.

        Checks happen here, before any token is generated (an empty prompt or one that does
        not fit raises). Setting `stop` ends the stream within one token with finish reason
        'cancelled'; closing the iterator early also leaves the engine consistent.
        """
        if not isinstance(prompt, Prompt):
            raise BadInputError("generate() takes a Prompt from build_prompt()")
        self.check_file()
        self.check_fits(prompt, params.max_tokens)
        if self._busy:
            raise RuntimeError("LlamaEngine.generate() called while another generation is running")
        return self._stream(prompt, params, stop or threading.Event())

    def _stream(self, prompt: Prompt, params: SamplingParams, stop: threading.Event) -> Iterator[GenerationEvent]:
        if self._busy:  # a second stream started while the first is suspended
            raise RuntimeError("LlamaEngine: two generations may not run at once")
        llm = self._llm
        started = time.perf_counter()
        tokens = np.asarray(prompt.tokens, dtype=np.intc)
        ids: list[int] = []
        logprobs: list[float] = []
        texts: list[str] = []
        first_at: float | None = None
        last_at = started
        evaluated = 0
        reason: FinishReason = "cancelled"
        self._busy = True
        inner = None
        try:
            evaluated, complete = self._prepare(tokens, stop, params.max_tokens)
            if complete and not stop.is_set():
                llm.set_seed(params.seed)
                inner = llm.generate(
                    tokens.tolist(),
                    top_k=params.top_k,
                    top_p=params.top_p,
                    min_p=params.min_p,
                    temp=params.temperature,
                    repeat_penalty=params.repeat_penalty,
                    stopping_criteria=llama_cpp.StoppingCriteriaList([lambda _ids, _logits: stop.is_set()]),
                )
                decoder = self.text_decoder()
                for token in inner:
                    last_at = time.perf_counter()
                    if first_at is None:
                        first_at = last_at
                    if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        reason = "stop"
                        break
                    logprob = self._logprob(token)
                    text = decoder.push(token)
                    ids.append(token)
                    logprobs.append(logprob)
                    texts.append(text)
                    yield TokenEvent(text, token, logprob, self._top_tokens())
                    if len(ids) >= params.max_tokens:
                        reason = "length"
                        break
                tail = decoder.flush()
                if tail and texts:
                    # A generation cut inside a character: keep what came, as U+FFFD.
                    texts[-1] += tail
        finally:
            if inner is not None:
                inner.close()
            self._busy = False
            self._reuse.sync()
        decoding = last_at - first_at if first_at is not None else 0.0
        yield FinishEvent(
            finish_reason=reason,
            prompt_tokens=len(tokens),
            prompt_tokens_evaluated=evaluated,
            completion_tokens=len(ids),
            time_to_first_token_s=(first_at - started) if first_at is not None else None,
            tokens_per_s=(len(ids) - 1) / decoding if len(ids) > 1 and decoding > 0 else 0.0,
            text="".join(texts),
            token_ids=tuple(ids),
            logprobs=tuple(logprobs),
        )

    def prefill(self, prompt: Prompt, stop: threading.Event | None = None) -> int | None:
        """Evaluate `prompt` and snapshot it without sampling, so a later generate starts at once.

        Returns how many tokens were decoded (the rest were reused), or None when `stop` was set
        before the prompt was fully evaluated (the part done is kept).
        """
        self.check_file()
        self.check_fits(prompt, 0)
        if self._busy:
            raise RuntimeError("LlamaEngine: prefill() called while a generation is running")
        try:
            evaluated, complete = self._prepare(np.asarray(prompt.tokens, dtype=np.intc), stop or threading.Event())
            return evaluated if complete else None
        finally:
            self._reuse.sync()

    def _logprob(self, token: int) -> float:
        """Log-probability of `token` under the raw distribution at the last evaluated position."""
        pointer = llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)
        address = ctypes.addressof(pointer.contents)
        if address != self._logits_at:
            # A view of llama.cpp's logits row, made again only when the row moves (it stays put
            # from token to token): making it costs as much as the arithmetic below.
            self._logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
            self._logits_at = address
        logits = self._logits
        top = float(logits.max())
        scratch = self._scratch
        np.subtract(logits, top, out=scratch)
        np.exp(scratch, out=scratch)
        # A float32 pairwise sum of terms in (0, 1]: relative error ~1e-7, well under what a
        # confidence figure shows, and no float64 copy of the vocabulary.
        self._log_max = top
        self._log_norm = top + math.log(float(scratch.sum()))
        return float(logits[token]) - self._log_norm

    def _top_tokens(self) -> tuple[tuple[str, float], ...]:
        """The TOP_TOKENS likeliest tokens at the position `_logprob` just read, likeliest first.

        Almost always only a few tokens lie within TOP_WINDOW nats of the likeliest one, and one
        vectorised comparison finds them (about a fifth of a full argpartition of the
        vocabulary); a flat distribution with fewer candidates falls back to the argpartition.
        """
        logits = self._logits
        top = self._log_max
        candidates = np.flatnonzero(logits >= top - TOP_WINDOW)
        if len(candidates) < TOP_TOKENS:
            candidates = np.argpartition(logits, -TOP_TOKENS)[-TOP_TOKENS:]
        elif len(candidates) > TOP_TOKENS:
            candidates = candidates[np.argpartition(logits[candidates], -TOP_TOKENS)[-TOP_TOKENS:]]
        ranked = sorted(((float(logits[i]), int(i)) for i in candidates), reverse=True)
        norm = self._log_norm
        return tuple(
            (self.token_bytes(i).decode("utf-8", errors="replace"), value - norm) for value, i in ranked
        )

    # -- state reuse -------------------------------------------------------------------------

    def _prepare(self, tokens: np.ndarray, stop: threading.Event, reserve: int = 0) -> tuple[int, bool]:
        """Bring the context to `tokens` evaluated; return how many were decoded and whether all.

        Reuses the longest prefix held by a live branch (or a saved one, or a snapshot). At least
        the last token is decoded so that sampling sees fresh logits. `reserve` cells are kept
        free for the tokens the generation will add.
        """
        llm = self._llm
        keep = self._reuse.prepare(tokens, reserve)
        position = keep
        while position < len(tokens):
            if stop.is_set():
                return position - keep, False
            end = min(len(tokens), position + llm.n_batch)
            check_batch(end - position, llm.n_batch)
            llm.eval(tokens[position:end].tolist())
            position = end
        return len(tokens) - keep, True

    def cache_stats(self) -> CacheStats:
        """Branches (or snapshots) held, the bytes the budget pays for, and lookups that found one.

        With shared-prefix branches: entries are live and saved branches, bytes the KV of cells
        beyond the active branch's plus the saved bytes, hits the prompts that started from
        another branch than the active one.
        """
        if self._branches is None:
            return self._snapshots.stats()
        b = self._branches.stats()
        extra = (b.cells_used - b.active_cells) * self.kv_bytes_per_token
        return CacheStats(b.live + b.saved, extra + b.saved_bytes, self.options.cache_budget_bytes, b.hits, b.misses)

    def branch_stats(self) -> BranchStats | None:
        """The branch store's own figures (None in the snapshot scheme)."""
        return self._branches.stats() if self._branches is not None else None

    def reset(self) -> None:
        """Forget all evaluated state: the live KV cache and every snapshot (cold start)."""
        self._reuse.clear()

    # -- the model file ----------------------------------------------------------------------

    def check_file(self) -> None:
        """Raise ModelFileError when the loaded file was changed in place since it was loaded.

        The weights in memory were read from the file as it was; its hash (what each generation
        records) can no longer be read from it, so nothing is generated until the model is
        loaded again. A file deleted, or replaced by another under its name, leaves the loaded
        one as it was: that is fine.
        """
        if _identity(os.fstat(self._file.fileno())) != self._loaded:
            raise ModelFileError(
                f"{self.info.path} was changed on disk after the model was loaded, so the loaded "
                "copy can no longer be used; load the model again"
            )

    def file_sha256(self) -> str:
        """The SHA-256 of the file as it was loaded (not of whatever its path holds now)."""
        from workstation.engine.fingerprint import model_sha256

        self.check_file()
        return model_sha256(Path(self.info.path), self._file)

    def close(self) -> None:
        """Free the model and its context; the engine cannot be used afterwards."""
        self._reuse.clear()
        self._llm.close()
        self._file.close()

    def __enter__(self) -> LlamaEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file is rewritten in place: device, inode, size, modification time."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _kv_shape(info: GGUFInfo, model: object) -> KVShape:
    """The header's KV geometry, else llama.cpp's layer and head counts (head width n_embd/n_head)."""
    shape = kv_shape(info)
    if shape is not None:
        return shape
    n_head = max(1, llama_cpp.llama_model_n_head(model))
    width = llama_cpp.llama_model_n_embd(model) // n_head
    return KVShape(llama_cpp.llama_model_n_layer(model), llama_cpp.llama_model_n_head_kv(model) or n_head, width, width)
