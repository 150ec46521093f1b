"""Backends that generate in this process: the procedural demo teacher, local transformers
(batched, left padding, CPU or GPU) and vLLM's offline engine (GPU only; imported lazily, in the
`gpu` extra, written to vLLM's documented `LLM.generate(prompts, SamplingParams)` API and untested
here: vLLM cannot be installed on the CPU machines this project is built on)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from redstar_training.generation.types import Completion, SampleRequest, Sampling


@dataclass
class ProceduralBackend:
    """The embedded default's teacher (column arithmetic with slips and checks); needs no model."""

    slip_per_column: float = field(default=0.03, metadata={"description": "Chance of a slip in each column of a sum."})
    slip_per_carry: float = field(
        default=0.05, metadata={"description": "Extra chance of a slip for each carry in a column."}
    )
    catch_rate: float = field(
        default=0.5, metadata={"description": "Chance that the final check catches a slip or misreading."}
    )
    misread_rate: float = field(
        default=0.15, metadata={"description": "Geometry: chance that a printed value is misread."}
    )
    seed: int = field(default=0, metadata={"description": "Seed of the slips."})
    revision: str = field(default="", metadata={"description": "A version label, part of each sample's cache key."})
    problems: dict[str, str] = field(default_factory=dict)  # problem_id -> text, set by the caller
    tests: dict[str, str] = field(default_factory=dict)  # problem_id -> tests, for code problems
    images: dict[str, bytes] = field(default_factory=dict)  # problem_id -> figure, for generated geometry

    @property
    def model_id(self) -> str:
        from redstar_training.synthetic.procedural import TEACHER_ID

        return TEACHER_ID

    def generate(self, requests: list[SampleRequest], sampling: Sampling, on_done) -> dict:
        from redstar_training.synthetic import geometry
        from redstar_training.synthetic.procedural import ProceduralTeacherConfig, solve
        from redstar_training.synthetic.procedural_code import solve_code

        cfg = ProceduralTeacherConfig(self.slip_per_column, self.slip_per_carry, self.catch_rate, self.seed)
        geo = geometry.GeoTeacherConfig(self.misread_rate, self.catch_rate, self.seed)
        failed = 0
        for r in requests:
            started = time.monotonic()
            try:
                text, tests = self.problems[r.problem_id], self.tests.get(r.problem_id)
                if tests:  # a code problem: the program, in one fenced block
                    s = solve_code(text, r.sample_index, r.problem_id, cfg)
                elif r.problem_id in self.images:  # a generated figure: read, reasoned about, a letter boxed
                    s = geometry.solve(text, self.images[r.problem_id], r.sample_index, r.problem_id, geo)
                else:
                    s = solve(text, r.sample_index, r.problem_id, cfg)
                on_done(
                    Completion(
                        r.key,
                        r.problem_id,
                        r.sample_index,
                        s.text,
                        s.finish_reason,
                        completion_tokens=s.completion_tokens,
                        latency_s=time.monotonic() - started,
                    )
                )
            except ValueError as exc:
                failed += 1
                on_done(
                    Completion(
                        r.key,
                        r.problem_id,
                        r.sample_index,
                        "",
                        "error",
                        error_kind="unreadable_problem",
                        error=str(exc),
                    )
                )
        return {"requests": len(requests), "failed_unreadable_problem": failed}


def _rendered(tokenizer, request: SampleRequest) -> str:
    """The conversation in the model's own chat template (raw ChatML when it has none)."""
    if not getattr(tokenizer, "chat_template", None):
        return request.prompt
    return tokenizer.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True)


@dataclass
class SyntheticBackend:
    """Scale runs' teacher: ~8 KB traces answering with the synthetic answer mix; needs no model."""

    seed: int = field(default=0, metadata={"description": "Seed of the traces and answers."})
    revision: str = field(default="", metadata={"description": "A version label, part of each sample's cache key."})
    answers: dict[str, str] = field(default_factory=dict)  # problem_id -> gold answer, set by the caller

    @property
    def model_id(self) -> str:
        from redstar_training.synthetic.synthetic import TEACHER_ID

        return TEACHER_ID

    def generate(self, requests: list[SampleRequest], sampling: Sampling, on_done) -> dict:
        from redstar_training.synthetic.synthetic import predictions, trace

        answered: dict[str, list[str]] = {}
        for r in requests:
            if r.problem_id not in answered:
                answered[r.problem_id] = predictions(r.problem_id, self.answers[r.problem_id], 64, self.seed)
            text = trace(r.problem_id, r.sample_index, answered[r.problem_id][r.sample_index % 64], self.seed)
            on_done(Completion(r.key, r.problem_id, r.sample_index, text, "stop", completion_tokens=len(text) // 4))
        return {"requests": len(requests)}


@dataclass
class TransformersBackend:
    """Local batched generation from a model folder (left padding, chat template); a vision model
    gets each problem's figure from `images`."""

    model: str = field(metadata={"description": "The model folder (or Hub id) to generate with."})
    revision: str = field(
        default="", metadata={"description": "The model's revision (branch, tag or commit); empty for the default."}
    )
    batch_size: int = field(default=8, metadata={"description": "Prompts generated together in one batch."})
    device: str = field(default="cpu", metadata={"description": "Torch device to run on, e.g. cpu or cuda."})
    threads: int = field(default=2, metadata={"description": "Torch CPU threads."})
    # the evaluation sets it per model, from the profile's base model entry
    trust_remote_code: bool = field(
        default=False, metadata={"description": "Run the model folder's own modelling code."}
    )
    images: dict[str, bytes] = field(default_factory=dict)  # problem_id -> encoded figure, set by the caller
    _loaded: Any = field(default=None, init=False, repr=False)  # (tokenizer or processor, model) once loaded

    @property
    def model_id(self) -> str:
        return self.model

    def runtime(self) -> dict:
        """The dtype and devices the loaded model ran in, for a score's environment stamp."""
        from redstar_training.generation.environment import torch_runtime, unknown_runtime

        return torch_runtime(self._loaded[1]) if self._loaded is not None else unknown_runtime()

    def _inputs(self, batch: list[SampleRequest]) -> dict:
        from redstar_training.models.chat_template import with_image
        from redstar_training.models.folders import encode_prompts, is_vision_model, pil_image, text_tokenizer

        processing, _ = self._loaded
        tok = text_tokenizer(processing)
        if not is_vision_model(self.model):
            return encode_prompts(processing, [_rendered(tok, r) for r in batch])
        figures = [self.images.get(r.problem_id) for r in batch]
        texts = [
            tok.apply_chat_template(
                with_image(list(r.messages), f is not None), tokenize=False, add_generation_prompt=True
            )
            for r, f in zip(batch, figures, strict=True)
        ]
        return encode_prompts(processing, texts, [pil_image(f) for f in figures if f is not None] or None)

    def generate(self, requests: list[SampleRequest], sampling: Sampling, on_done) -> dict:
        import torch

        from redstar_training.models.folders import load_model, text_tokenizer

        torch.set_num_threads(self.threads)
        if self._loaded is None:  # loaded once: rounds and chunks of one run share it
            processing, model = load_model(
                self.model, revision=self.revision or None, trust_remote_code=self.trust_remote_code
            )
            self._loaded = (processing, model.to(self.device).eval())
        tok, model = text_tokenizer(self._loaded[0]), self._loaded[1]
        eos = tok.eos_token_id
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            began = time.monotonic()
            enc = {k: v.to(self.device) for k, v in self._inputs(batch).items()}
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed + batch[0].sample_index)
            with torch.no_grad():
                sample = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
                out = model.generate(
                    **enc,
                    max_new_tokens=sampling.max_tokens,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=eos,
                    **(sample if sampling.temperature > 0 else {"do_sample": False}),
                )
            width = enc["input_ids"].shape[1]
            for r, row, mask in zip(batch, out, enc["attention_mask"], strict=True):
                new = row[width:].tolist()
                finished = eos in new
                new = new[: new.index(eos)] if finished else new
                on_done(
                    Completion(
                        r.key,
                        r.problem_id,
                        r.sample_index,
                        tok.decode(new, skip_special_tokens=True),
                        "stop" if finished else "length",
                        prompt_tokens=int(mask.sum()),
                        completion_tokens=len(new),
                        latency_s=round(time.monotonic() - began, 4),
                    )
                )
        return {"requests": len(requests)}


@dataclass
class VLLMBackend:
    """vLLM's offline engine with tensor parallelism (GPU machines; `pip install .[gpu]`)."""

    model: str = field(metadata={"description": "The model folder (or Hub id) to generate with."})
    revision: str = field(
        default="", metadata={"description": "The model's revision (branch, tag or commit); empty for the default."}
    )
    tensor_parallel_size: int = field(default=1, metadata={"description": "GPUs the model is split across."})
    max_model_len: int | None = field(
        default=None, metadata={"description": "Longest context in tokens; null for the model's own."}
    )
    gpu_memory_utilization: float = field(default=0.9, metadata={"description": "Share of GPU memory vLLM may take."})
    limit_mm_per_prompt: dict[str, int] | None = field(
        default=None, metadata={"description": "Most media items per prompt, e.g. {image: 1} for a vision model."}
    )
    # the evaluation sets it per model, from the profile's base model entry
    trust_remote_code: bool = field(
        default=False, metadata={"description": "Run the model folder's own modelling code."}
    )
    images: dict[str, bytes] = field(default_factory=dict)  # problem_id -> figure, set by the caller
    _engine: Any = field(default=None, init=False, repr=False)

    @property
    def model_id(self) -> str:
        return self.model

    def runtime(self) -> dict:
        """The engine's dtype and GPUs, for a score's environment stamp."""
        from redstar_training.generation.environment import engine_runtime

        return engine_runtime(self._engine, self.tensor_parallel_size)

    def generate(self, requests: list[SampleRequest], sampling: Sampling, on_done) -> dict:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise RuntimeError("the vllm teacher backend needs vLLM on a GPU machine: pip install '.[gpu]'") from exc
        if self._engine is None:  # one engine per process: a second LLM() would not fit beside the first
            self._engine = LLM(
                model=self.model,
                revision=self.revision or None,
                tensor_parallel_size=self.tensor_parallel_size,
                max_model_len=self.max_model_len,
                gpu_memory_utilization=self.gpu_memory_utilization,
                trust_remote_code=self.trust_remote_code,
                **({"limit_mm_per_prompt": self.limit_mm_per_prompt} if self.limit_mm_per_prompt else {}),
            )
        llm = self._engine
        params = [
            SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=None if sampling.seed is None else sampling.seed + r.sample_index,
            )
            for r in requests
        ]
        began = time.monotonic()
        if any(r.problem_id in self.images for r in requests):
            # vLLM's documented multimodal chat: OpenAI-format messages with the figure as an image_url
            from redstar_training.models.chat_template import image_url_messages

            conversations = [image_url_messages(list(r.messages), self.images.get(r.problem_id)) for r in requests]
            outputs = llm.chat(conversations, params)
        else:
            tokenizer = llm.get_tokenizer()
            outputs = llm.generate([_rendered(tokenizer, r) for r in requests], params)
        for r, out in zip(requests, outputs, strict=True):
            o = out.outputs[0]
            on_done(
                Completion(
                    r.key,
                    r.problem_id,
                    r.sample_index,
                    o.text,
                    o.finish_reason or "stop",
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=len(o.token_ids),
                    latency_s=round(time.monotonic() - began, 4),
                )
            )
        return {"requests": len(requests)}
