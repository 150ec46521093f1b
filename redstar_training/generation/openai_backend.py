"""Any OpenAI-compatible server (`vllm serve`, SGLang, `transformers serve`, hosted APIs), or a fleet of
them, through the async `openai` client with our own retry policy, so every failure is counted. The API
key comes only from the environment variable `api_key_env` and is never logged or put in metadata. A
server's separate `reasoning_content` is put back as `<think>...</think>` in front of the answer, so
traces look the same whichever server made them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redstar_training.generation.types import Completion, SampleRequest, Sampling, TeacherUnavailable
from redstar_training.models.chat_template import image_url_messages

if TYPE_CHECKING:
    from openai import AsyncOpenAI

# The client's own retries are off, so every failure is counted. 429, 5xx, timeouts, dropped connections
# and malformed responses are retried with jittered exponential backoff that honours `Retry-After`; these
# stop the whole run at once, and these fail only their sample, with the server's reason:
FATAL_STATUS = (401, 403, 404)
SAMPLE_FAILS_STATUS = (400, 413, 422)
LOG = logging.getLogger(__name__)  # each retry, as it happens: a teacher that does not answer is never silent


class _Retry(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind, self.retry_after = kind, retry_after


def join_reasoning(reasoning: str | None, content: str | None) -> str:
    """A completion with its thinking put back in front, as the model wrote it."""
    content = content or ""
    if not reasoning:
        return content
    return f"<think>\n{reasoning.strip()}\n</think>\n\n{content.lstrip()}"


def _retry_after(response) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass
class _Endpoint:
    """One replica of the fleet and what it has done."""

    url: str
    client: AsyncOpenAI
    outstanding: int = 0
    picked: int = 0
    failures: int = 0  # consecutive connection failures
    down_until: float = 0.0
    last_error: str = ""


@dataclass
class OpenAIBackend:
    """`base_url` may list a fleet of replicas: each request goes to the live endpoint with the fewest
    requests outstanding, and one that fails to connect `endpoint_retries` times in a row is taken out
    (its in-flight samples retried on the others) until `probe_after_s`; with none left, the run stops."""

    base_url: str | list[str] = field(metadata={"description": "The server's URL, or a list of replicas' URLs."})
    model: str = field(metadata={"description": "The model name the server answers to."})
    endpoint: str = field(default="chat", metadata={"description": "The API to call: chat or completions."})
    api_key_env: str = field(
        default="OPENAI_API_KEY", metadata={"description": "Environment variable holding the API key."}
    )
    revision: str = field(
        default="", metadata={"description": "A version label of the served model, part of each sample's cache key."}
    )
    concurrency: int = field(default=8, metadata={"description": "Requests in flight at once, per endpoint."})
    timeout_s: float = field(default=600.0, metadata={"description": "Seconds before one request times out."})
    max_retries: int = field(
        default=6, metadata={"description": "Retries of a failed request before the sample is given up."}
    )
    backoff_base_s: float = field(
        default=1.0, metadata={"description": "First retry's backoff in seconds, doubled on each retry."}
    )
    backoff_max_s: float = field(default=60.0, metadata={"description": "Longest backoff between retries, in seconds."})
    endpoint_retries: int = field(
        default=2, metadata={"description": "Consecutive connection failures before an endpoint is taken out."}
    )
    probe_after_s: float = field(
        default=30.0, metadata={"description": "Seconds before an endpoint taken out is tried again."}
    )
    images: dict[str, bytes] = field(default_factory=dict)  # problem_id -> figure, sent as an image_url part

    @property
    def urls(self) -> list[str]:
        urls = [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)
        if not urls:
            raise ValueError("openai backend: base_url is an empty list")
        return urls

    @property
    def model_id(self) -> str:
        return self.model

    def runtime(self) -> dict:
        """What the server says of itself (its version), for a score's environment stamp."""
        from redstar_training.generation.environment import server_runtime

        return server_runtime(self.urls)

    def generate(self, requests: list[SampleRequest], sampling: Sampling, on_done) -> dict:
        """Runs all requests with bounded concurrency; `on_done` gets each completion as it finishes."""
        if self.endpoint not in ("chat", "completions"):
            raise ValueError(f"openai backend: endpoint must be 'chat' or 'completions', not {self.endpoint!r}")
        if self.endpoint == "completions" and any(r.problem_id in self.images for r in requests):
            raise ValueError("openai backend: image problems need endpoint: chat (a completions prompt has no image)")
        counters: Counter = Counter()
        asyncio.run(self._run(requests, sampling, on_done, counters))
        return dict(counters)

    async def _run(self, requests, sampling, on_done, counters) -> None:
        from openai import AsyncOpenAI

        key = os.environ.get(self.api_key_env) or "EMPTY"
        fleet = [
            _Endpoint(url, AsyncOpenAI(base_url=url, api_key=key, max_retries=0, timeout=self.timeout_s))
            for url in self.urls
        ]
        queue: asyncio.Queue = asyncio.Queue()
        for r in requests:
            queue.put_nowait(r)

        async def worker():
            while True:
                try:
                    request = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                on_done(await self._one(fleet, request, sampling, counters))

        width = self.concurrency * len(fleet)
        workers = [asyncio.create_task(worker()) for _ in range(max(1, min(width, len(requests))))]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            for e in fleet:
                await e.client.close()

    async def _pick(self, fleet: list[_Endpoint]) -> _Endpoint:
        """The live endpoint with the fewest outstanding requests; when all are out, the first to be
        probed again, once its time comes."""
        now = time.monotonic()
        live = [e for e in fleet if e.down_until <= now]
        if not live:
            first = min(fleet, key=lambda e: e.down_until)
            await asyncio.sleep(max(0.0, first.down_until - now))
            live = [first]
        chosen = min(live, key=lambda e: (e.outstanding, e.picked))
        chosen.picked += 1
        return chosen

    def _unreachable(self, fleet: list[_Endpoint], attempts: int) -> TeacherUnavailable:
        if len(fleet) == 1:
            return TeacherUnavailable(
                f"teacher server {fleet[0].url} unreachable after {attempts} attempts: {fleet[0].last_error}"
            )
        named = "; ".join(f"{e.url} ({e.last_error or 'no answer'})" for e in fleet)
        return TeacherUnavailable(f"every teacher endpoint is unreachable after {attempts} attempts: {named}")

    async def _one(self, fleet: list[_Endpoint], request: SampleRequest, sampling: Sampling, counters: Counter):
        started = time.monotonic()
        last: _Retry | None = None
        # a replica that drops out may cost each in-flight sample `endpoint_retries` extra attempts
        budget = self.max_retries + 1 + (len(fleet) - 1) * self.endpoint_retries
        for attempt in range(1, budget + 1):
            endpoint = await self._pick(fleet)
            counters["requests"] += 1
            endpoint.outstanding += 1
            began = time.monotonic()
            try:
                text, finish, usage = await self._call(endpoint.client, request, sampling)
            except _Retry as exc:
                counters[f"retry_{exc.kind}"] += 1
                counters[f"endpoint_errors:{endpoint.url}"] += 1
                last = exc
                LOG.warning(
                    "teacher %s: %s (%s, attempt %d of %d)", endpoint.url, exc, request.problem_id, attempt, budget
                )
                if exc.kind == "connection":
                    endpoint.failures += 1
                    endpoint.last_error = str(exc)[:200]
                    if endpoint.failures >= self.endpoint_retries:
                        if endpoint.down_until <= time.monotonic():  # counted once per time out
                            counters[f"endpoint_taken_out:{endpoint.url}"] += 1
                            LOG.warning(
                                "teacher %s: taken out, tried again in %.0f s", endpoint.url, self.probe_after_s
                            )
                        endpoint.down_until = time.monotonic() + self.probe_after_s
                    if attempt < budget and any(e.down_until <= time.monotonic() for e in fleet):
                        continue  # another replica is live: send it there now, no backoff
                if attempt >= budget:
                    break
                delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)) * random.random()
                await asyncio.sleep(max(delay, exc.retry_after or 0.0))
                continue
            except _SampleFailed as exc:
                counters["failed_bad_request"] += 1
                return _failed(request, started, attempt, "bad_request", exc)
            finally:
                endpoint.outstanding -= 1
                counters[f"endpoint_busy_ms:{endpoint.url}"] += round(1000 * (time.monotonic() - began))
            endpoint.failures = 0
            endpoint.down_until = 0.0
            counters[f"endpoint_completions:{endpoint.url}"] += 1
            counters[f"endpoint_completion_tokens:{endpoint.url}"] += usage[1]
            return Completion(
                request.key,
                request.problem_id,
                request.sample_index,
                text,
                finish,
                prompt_tokens=usage[0],
                completion_tokens=usage[1],
                latency_s=round(time.monotonic() - started, 4),
                attempts=attempt,
            )
        assert last is not None
        if last.kind == "connection":
            raise self._unreachable(fleet, budget)
        counters[f"failed_{last.kind}"] += 1
        return _failed(request, started, budget, last.kind, last)

    async def _call(self, client, request: SampleRequest, sampling: Sampling) -> tuple[str, str, tuple[int, int]]:
        import openai

        params = {
            "model": self.model,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            params["seed"] = sampling.seed + request.sample_index
        try:
            if self.endpoint == "chat":
                messages = image_url_messages(list(request.messages), self.images.get(request.problem_id))
                response = await client.chat.completions.create(messages=messages, **params)
                choice = response.choices[0]
                message = choice.message
                reasoning = getattr(message, "reasoning_content", None) or (message.model_extra or {}).get(
                    "reasoning_content"
                )
                text = join_reasoning(reasoning, message.content)
            else:
                response = await client.completions.create(prompt=request.prompt, **params)
                choice = response.choices[0]
                text = choice.text or ""
            usage = response.usage
            tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
            return text, choice.finish_reason or "stop", tokens
        except openai.APITimeoutError as exc:
            raise _Retry("timeout", f"timed out after {self.timeout_s}s") from exc
        except openai.APIConnectionError as exc:
            raise _Retry("connection", f"{type(exc).__name__}: {exc}") from exc
        except openai.RateLimitError as exc:
            raise _Retry("rate_limited", "429 rate limited", _retry_after(exc.response)) from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status in FATAL_STATUS:
                raise TeacherUnavailable(
                    f"teacher server {str(client.base_url).rstrip('/')} refused model {self.model!r}: "
                    f"HTTP {status}: {exc.message}"
                ) from exc
            if status in SAMPLE_FAILS_STATUS:
                raise _SampleFailed(f"HTTP {status}: {exc.message}") from exc
            raise _Retry("server_error", f"HTTP {status}", _retry_after(exc.response)) from exc
        except (
            json.JSONDecodeError,
            openai.APIResponseValidationError,
            AttributeError,
            IndexError,
            TypeError,
            ValueError,
        ) as exc:
            raise _Retry("malformed", f"malformed response: {type(exc).__name__}: {str(exc)[:200]}") from exc


def _failed(request: SampleRequest, started: float, attempts: int, kind: str, exc: Exception) -> Completion:
    """A sample that could not be generated: recorded with why, never cached."""
    return Completion(
        request.key,
        request.problem_id,
        request.sample_index,
        "",
        "error",
        latency_s=time.monotonic() - started,
        attempts=attempts,
        error_kind=kind,
        error=str(exc)[:500],
    )


class _SampleFailed(Exception):
    """A request the server rejects for this sample only (400/422): recorded, not retried."""
