"""Command line: python -m rnnlm train | sample | score | download | push | pull | deploy-space | race."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import threads
from .config import TrainConfig
from .models import MODELS
from .sample import SampleSettings

SAMPLING = SampleSettings()  # the library's defaults are the command line's


def _train(args) -> int:
    from .train import new_model_config, train

    given = {k: v for k, v in vars(args).items() if v is not None}
    train_fields = set(TrainConfig.__dataclass_fields__)
    if args.resume:
        overrides = {k: v for k, v in given.items() if k in train_fields}
        if "minutes" in overrides and "max_iters" not in overrides:
            overrides["max_iters"] = None  # a new time budget alone: run until the minutes are up
        summary = _run(lambda: train(args.resume, resume=True, overrides=overrides, progress_bar=not args.no_progress,
                                     device=args.device))
    else:
        if not args.model or not args.data or not args.out:
            print("error: a new run needs --model, --data and --out (or --resume DIR)", file=sys.stderr)
            return 2
        defaults = MODELS[args.model].defaults
        fields = {k: given.get(k, defaults.get(k)) for k in train_fields if k in given or k in defaults}
        if "max_iters" not in given and args.minutes:
            fields["max_iters"] = None  # a time budget alone: run until the minutes are up
        cfg = TrainConfig(**fields)
        model_config = new_model_config(args.model, "", hidden_size=args.hidden_size, num_layers=args.num_layers,
                                        embed_size=args.embed_size, dropout=args.dropout, tokens=_tokens(args),
                                        options=_options(args, MODELS[args.model].defaults.get("options")))
        summary = _run(lambda: train(args.out, cfg, model_config, progress_bar=not args.no_progress, device=args.device))
    if summary is None:
        return 1
    if summary.get("rank", 0):
        return 0  # under torchrun, rank 0 reports
    verb = "stopped (resume with --resume)" if summary["interrupted"] else "finished"
    unit = "char" if summary.get("tokens", "char") == "char" else "token"
    print(
        f"{verb} at step {summary['steps']} after {summary['seconds']:.0f} s; "
        f"best val {summary['best_val']:.4f} nats/{unit} at step {summary['best_step']}; saved in {summary['out']}"
    )
    return 0


def _tokens(args) -> dict:
    """config.tokens for a new run: --tokens, with --vocab-size and --lowercase for words."""
    from .vocab import DEFAULT_WORDS, check_max_size

    if args.tokens != "word":
        given = [f for f, v in (("--vocab-size", args.vocab_size), ("--lowercase", args.lowercase)) if v]
        if given:
            raise ValueError(f"{' and '.join(given)} apply to word tokens only (--tokens word)")
        return {"kind": "char"}
    size = DEFAULT_WORDS if args.vocab_size is None else args.vocab_size
    check_max_size(size)
    return {"kind": "word", "max_size": size, "lowercase": bool(args.lowercase)}


def _options(args, defaults: dict | None) -> dict | None:
    """A model type's own settings (--order, --prune, --forget-bias) over its defaults; an error for a type
    without them."""
    given = {k: getattr(args, k) for k in ("order", "prune", "forget_bias") if getattr(args, k, None) is not None}
    for name in given:
        if name not in (defaults or {}):
            owners = [m for m, spec in MODELS.items() if name in (spec.defaults.get("options") or {})]
            raise ValueError(f"--{name.replace('_', '-')} applies to {' and '.join(owners)} models only "
                             f"(--model {owners[0]}), not {args.model}")
    for name, value in given.items():
        if name in ("order", "prune") and (value < 0 or (name == "order" and value > 20)):
            raise ValueError(f"--{name} must be from 0 to {20 if name == 'order' else 'any'}; got {value}")
    return {**defaults, **given} if defaults is not None else None


def _run(fn):
    from .train import TrainingDiverged

    try:
        return fn()
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def _sample(args) -> int:
    from . import load_model
    from .sample import GREEDY_BELOW, stream

    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise ValueError(f"--seed must be from 0 to {2**32 - 1}, got {args.seed}")
    model = load_model(args.checkpoint, inference=True)  # the LSTM and GRU run in numpy: no torch to import
    threads.single_stream()
    if args.top is not None:
        return _top(model, args)
    index = _training_index(model, args.data) if args.show_copied else None
    s = stream(model, args.prompt, length=args.length, temperature=args.temperature,
               top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    if 0 < args.temperature < GREEDY_BELOW:
        print(f"note: --temperature {args.temperature:g} is below {GREEDY_BELOW:g}; sampling greedily (always the "
              "likeliest token), which is what so small a temperature means", file=sys.stderr)
    _prompt_notes(model, s.prompt)
    out = sys.stdout
    out.write(args.prompt)
    if index is None:
        for ch in s:
            out.write(ch)
            out.flush()
        out.write("\n")
        return 0
    text = "".join(s)
    spans = index.copied_spans(text, COPY_WINDOW)
    mark = ("\x1b[7m", "\x1b[0m") if out.isatty() else ("[[", "]]")  # reverse video on a terminal
    last = 0
    for start, end in spans:
        out.write(text[last:start] + mark[0] + text[start:end] + mark[1])
        last = end
    out.write(text[last:] + "\n")
    out.flush()
    length, _, _ = index.longest_copied(text)
    print(f"copied from the training text: longest {length} characters; "
          f"{index.copied_fraction(text, COPY_WINDOW):.1%} of the {COPY_WINDOW}-character windows; "
          f"{len(spans)} stretch(es) of {COPY_WINDOW}+ characters marked {mark[0]}...{mark[1]}", file=sys.stderr)
    return 0


COPY_WINDOW = 20  # characters: a verbatim run this long counts as copied


def _prompt_notes(model, prompt) -> None:
    """Notes on stderr about prompt characters skipped or words read as <unk> (a sample.Prompt)."""
    from .vocab import describe_unknown

    vocab = model.vocab
    if prompt.unknown_only:
        print("note: the model knows none of the prompt's " + ("characters" if vocab.kind == "char" else "words")
              + f" ({describe_unknown(vocab, prompt.skipped)}); it continues as if from the start of a text"
              + (" after <unk>" if vocab.kind == "word" else ""), file=sys.stderr)
    elif prompt.skipped and vocab.kind == "char":
        print(f"note: skipped prompt characters not in the vocabulary: {describe_unknown(vocab, prompt.skipped)}",
              file=sys.stderr)
    elif prompt.skipped:
        print(f"note: prompt words not in the vocabulary, read as <unk>: {describe_unknown(vocab, prompt.skipped)}",
              file=sys.stderr)


def _top(model, args) -> int:
    """--top N: the N likeliest next tokens after the prompt, with their probabilities; nothing is generated."""
    from .sample import prepare_prompt, top_next
    from .vocab import show_token

    nxt = top_next(model, args.prompt, args.top)
    _prompt_notes(model, prepare_prompt(model.vocab, args.prompt))
    if args.json:
        print(json.dumps([dict(token=t, prob=float(p)) for t, p in zip(nxt.tokens, nxt.probs)], ensure_ascii=False))
        return 0
    width = max(len(show_token(t)) for t in nxt.tokens)
    for rank, (t, p) in enumerate(zip(nxt.tokens, nxt.probs), 1):
        print(f"{rank:>3}  {show_token(t):<{width}}  {p:.4f}")
    return 0


def _training_index(model, data: str | None):
    """The memorization index of the model's training split: --data, else the corpus its config names."""
    from .data import find_corpus, read_text, split
    from .memorize import Index

    path = Path(data) if data else find_corpus(str(model.config.training.get("data", "")))
    if path is None:
        raise ValueError("--show-copied needs the training text: give --data FILE (the model names "
                         f"{model.config.training.get('data') or 'none'})")
    train_text, _ = split(read_text(path), float(model.config.training.get("val_fraction", 0.1)))
    return Index(train_text)


def _score(args) -> int:
    from . import load_model
    from .score import score, score_file
    from .vocab import describe_unknown

    if sum(x is not None for x in (args.text, args.text_file, args.sentences)) != 1:
        print("error: give exactly one of --text, --text-file or --sentences", file=sys.stderr)
        return 2
    if args.sentences is not None:
        sentences = _read_sentences(args.sentences)
        return _score_sentences(load_model(args.checkpoint, inference=True), sentences, args.json)
    if args.text_file is not None:
        _check_text_file(args.text_file)
    model = load_model(args.checkpoint, inference=True)  # the LSTM and GRU run in numpy: no torch to import
    threads.single_stream()
    if args.text is not None:
        result = score(model, args.text, context=args.context)
    else:  # read a block at a time, with a progress bar: files of any size
        result = score_file(model, args.text_file, context=args.context)
    if args.json:
        print(json.dumps(result.summary(), ensure_ascii=False))
    elif result.kind == "char":
        print(f"{result.nats_per_char:.4f} nats/char  {result.bits_per_char:.4f} bits/char  "
              f"perplexity {result.perplexity:.3f}  ({result.chars_scored} chars scored, {result.chars_skipped} skipped)")
        if result.skipped:
            print(f"skipped characters not in the vocabulary: {describe_unknown(model.vocab, result.skipped)}")
    else:
        print(f"{result.nats_per_token:.4f} nats/token  perplexity {result.perplexity:.3f} per token  "
              f"({result.tokens_scored} tokens scored, {result.unk_tokens} of them <unk>: {result.unk_rate:.1%})")
        print(f"{result.bits_per_char:.4f} bits/char over the text's {result.characters} characters "
              "(each <unk> also pays for its spelling; see the README)")
        if result.skipped:
            print(f"words not in the vocabulary, read as <unk>: {describe_unknown(model.vocab, result.skipped)}")
    return 0


MAX_SENTENCE_FILE = 1_000_000  # bytes: --sentences is for a list of sentences to compare, not a corpus


def _read_sentences(path: str) -> list[str]:
    """The non-blank lines of a UTF-8 file, or a ValueError naming the file and what is wrong with it."""
    p = Path(path)
    if p.is_file() and p.stat().st_size > MAX_SENTENCE_FILE:
        raise ValueError(f"--sentences {path}: {p.stat().st_size:,} bytes is more than {MAX_SENTENCE_FILE:,}; give "
                         "one sentence a line (to score a long text, use --text-file)")
    text = _read_text_file(path, flag="--sentences")
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise ValueError(f"--sentences {path}: no sentences in it; write one sentence a line")
    return sentences


def _score_sentences(model, sentences: list[str], as_json: bool) -> int:
    """Each sentence's log-probability and per-token perplexity, most probable first."""
    from .score import score_sentences

    ranked = score_sentences(model, sentences)
    if as_json:
        print(json.dumps([r.summary() for r in ranked], ensure_ascii=False))
        return 0
    unit = "chars" if model.vocab.kind == "char" else "tokens"
    print(f"rank  log-prob (nats)  perplexity  {unit:>6}  sentence")
    for rank, r in enumerate(ranked, 1):
        print(f"{rank:>4}  {r.logprob:>15.3f}  {r.perplexity:>10.3f}  {len(r.tokens):>6}  {r.text}")
    unknown = list(dict.fromkeys(w for r in ranked for w in r.skipped))
    if unknown:
        from .vocab import describe_unknown

        what = "characters skipped" if model.vocab.kind == "char" else "words read as <unk> (their spelling included)"
        print(f"note: {what}: {describe_unknown(model.vocab, unknown)}", file=sys.stderr)
    return 0


def _check_text_file(path: str) -> None:
    """A ValueError naming the file unless it is a readable file."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"--text-file {path}: file not found")
    if p.is_dir():
        raise ValueError(f"--text-file {path}: is a folder, not a file")


def _read_text_file(path: str, flag: str = "--text-file") -> str:
    """A UTF-8 file's text, or a ValueError naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{flag} {path}: not UTF-8 text (a binary file?)") from None
    except IsADirectoryError:
        raise ValueError(f"{flag} {path}: is a folder, not a file") from None
    except FileNotFoundError:
        raise ValueError(f"{flag} {path}: file not found") from None


def _download(args) -> int:
    from .data import download

    path = download(args.name, Path(args.out) / f"{args.name}.txt")
    print(f"saved {path}")
    return 0


def _push(args) -> int:
    from .hub import push

    result = push(args.dir, args.repo, private=args.private, revision=args.revision, token=args.token,
                  dry_run=args.dry_run)
    if not args.dry_run:
        print(result)
        return 0
    target = f"{args.repo} (branch {args.revision})" if args.revision else args.repo
    print(f"dry run: would upload to {target}:")
    for name in result:
        path = Path(args.dir) / name
        print(f"  {name}  ({path.stat().st_size:,} bytes)" if path.is_file() else f"  {name}  (card rendered from config.json)")
    return 0


def _pull(args) -> int:
    from .hub import pull

    pulled = pull(args.source, args.out)
    print(f"pulled {args.source} (commit {pulled.commit}) into {pulled.folder}: {', '.join(pulled.files)}")
    return 0


def _deploy_space(args) -> int:
    from .space import deploy, plan_space

    plan = plan_space(args.repo, models=args.model, with_torch=args.with_torch, checkpoints=args.checkpoints)
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    if not args.dry_run:
        print(deploy(plan, private=args.private, token=args.token))
        return 0
    print(f"dry run: would upload to Space {plan.repo_id} in one commit "
          f"({len(plan.files)} files, {sum(f.size for f in plan.files):,} bytes):")
    for f in plan.files:
        print(f"  {f.path}  ({f.size:,} bytes)")
    print("and set the Space variables:" if plan.variables else "and set no Space variable")
    for key, value in plan.variables.items():
        print(f"  {key}={value}")
    return 0


def _race(args) -> int:
    """Train several model types on one text with equal CPU time; write their folders, a figure and a table."""
    from .data import read_text
    from .models import MODELS
    from .playground.race import plan_race, run_race, table_markdown
    from .playground.raceplot import race_png

    try:
        import torch

        torch.set_num_threads(1)  # one thread each, as in the app: the models share the CPU by turns
    except ImportError:
        pass
    if not 0 < args.minutes <= 24 * 60:
        raise ValueError(f"--minutes must be above 0 and at most {24 * 60}, got {args.minutes:g}")
    text = read_text(args.data)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    plan = plan_race(text, args.minutes * 60, models, args.size, data=args.data)
    out = Path(args.out)
    print(f"racing {', '.join(models)} for {args.minutes:g} min; size {plan.why}", file=sys.stderr)

    def show(row: dict) -> None:
        print(f"{row['seconds']:7.1f} CPU s  {row['model']:5s} step {row['steps']:6,}  val {row['val']:.4f} nats/char",
              file=sys.stderr)

    result = run_race(text, plan, out, show if not args.quiet else lambda row: None)
    labels = {m: MODELS[m].label for m in models}
    title = f"{Path(args.data).name}: {len(models)} models, {args.minutes:g} min, preset {plan.size}"
    (out / "race.png").write_bytes(race_png(result["points"], labels, title, vocab_size=len(set(text))))
    table = table_markdown(result["summary"], plan)
    (out / "race.md").write_text(table, encoding="utf-8")
    (out / "race.json").write_text(json.dumps({"plan": plan.to_dict(), **result}, indent=1), encoding="utf-8")
    print(table)
    print(f"wrote {', '.join(str(out / m) for m in models)}, {out / 'race.png'}, {out / 'race.md'}, {out / 'race.json'}")
    return 0


def _inspect(args) -> int:
    from . import inspect as ins
    from . import load_model

    text = _read_text_file(args.text_file)
    model = load_model(args.dir, inference=True)
    label = MODELS[model.config.model_type].label
    if args.neurons and model.vocab.kind != "char":
        raise ValueError(f"--neurons correlates units with character features (quotes, line position, ...); this "
                         f"{label} reads words: use --gates or --gradients")
    if not ins.inspectable(model):
        print(f"note: skipped: the {label} has no hidden state to look inside", file=sys.stderr)
        if args.json:
            print(json.dumps({"model": model.config.model_type, "skipped": "no hidden state"}))
        return 0
    if args.gradients:
        notes: list[str] = []
        ids = ins.passage_ids(model.vocab, text, notes)
        for n in notes:
            print(f"note: {n}", file=sys.stderr)
        flow = ins.gradient_flow(model, ids)
        doc = dict(model=model.config.model_type, input=flow.input, targets=flow.targets, decay_factor=ins.DECAY,
                   decay_distance=flow.decay, norms=[float(x) for x in flow.norms])
        lines = [flow.sentence(), "k      mean gradient norm   relative to k = 1"]
        lines += [f"{k:<6} {flow.norms[k - 1]:<20.4g} {flow.norms[k - 1] / flow.norms[0]:.3g}"
                  for k in (1, 2, 5, 10, 25, 50, 100, 150, 200) if k <= len(flow.norms)]
    else:
        sample = ins.run_sample(model, text)
        unit = "characters" if model.vocab.kind == "char" else "tokens"
        doc = dict(model=model.config.model_type, chars=sample.chars)
        if args.neurons:
            doc["features"] = {f: [dict(vector=u.vector, unit=u.index, r=u.r) for u in units]
                               for f, units in sample.ranked.items()}
            doc["constant_features"] = sample.constant
            lines = [f"{label}: units most correlated with each feature over {sample.chars:,} {unit}"]
            for f, units in sample.ranked.items():
                best = ", ".join(f"{u.name()} r={u.r:+.3f}" for u in units) or "none: the feature is constant here"
                lines.append(f"  {f}: {best}")
        else:
            if not sample.saturation:
                print(f"note: the {label} has no gates", file=sys.stderr)
            doc["gates"] = {g: dict(units=len(lo), mean_left=float(lo.mean()), mean_right=float(hi.mean()),
                                    units_left_half=int((lo >= 0.5).sum()), units_right_half=int((hi >= 0.5).sum()),
                                    left=[float(x) for x in lo], right=[float(x) for x in hi])
                            for g, (lo, hi) in sample.saturation.items()}
            lines = [f"{label}: gate saturation over {sample.chars:,} {unit} (left < {ins.LOW}, right > {ins.HIGH}); "
                     "units: how many units are saturated at least half of the time"]
            lines += [f"  {g:<16} mean left {d['mean_left']:.3f}  right {d['mean_right']:.3f}   units left "
                      f"{d['units_left_half']:>4} / {d['units']}  right {d['units_right_half']:>4} / {d['units']}"
                      for g, d in doc["gates"].items()]
    print(json.dumps(doc) if args.json else "\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rnnlm", description="Character- and word-level recurrent language "
                                "models: train, sample, score.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a text file",
                       description="Train a model. Unset flags take per-model defaults: "
                       + "; ".join(f"{m}: {', '.join(f'{k}={v}' for k, v in spec.defaults.items())}"
                                   for m, spec in MODELS.items()))
    t.add_argument("--model", choices=list(MODELS),
                   help="; ".join(f"{name}: {spec.label} ({spec.framework})" for name, spec in MODELS.items()))
    t.add_argument("--data", help="UTF-8 text file; its first 90%% trains, the last 10%% validates")
    t.add_argument("--out", help="output folder: best checkpoint, log.jsonl, timelapse.jsonl, resume/")
    t.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR exactly (other flags override its settings)")
    t.add_argument("--tokens", choices=("char", "word"), help="what the model reads and writes: characters "
                   "(default) or words, numbers, punctuation marks and line breaks")
    t.add_argument("--vocab-size", type=int, help="word tokens: keep this many tokens, <unk> and the line break "
                   "among them: the most frequent of the training split; every other one reads as <unk> "
                   "(default 10000)")
    t.add_argument("--lowercase", action="store_true", default=None, help="word tokens: lowercase the text first")
    t.add_argument("--hidden-size", type=int, help="units per recurrent layer")
    t.add_argument("--num-layers", type=int, help="stacked recurrent layers")
    t.add_argument("--embed-size", type=int, help="input embedding width (lstm/gru)")
    t.add_argument("--dropout", type=float, help="dropout between layers and before the output (lstm/gru)")
    t.add_argument("--seq-len", type=int, help="tokens per window: how far back gradients flow (truncated BPTT)")
    t.add_argument("--batch-size", type=int, help="parallel streams over the training text")
    t.add_argument("--lr", type=float, help="peak learning rate (warmup, then cosine decay to lr * min-lr-ratio)")
    t.add_argument("--min-lr-ratio", type=float, help="final learning rate as a fraction of --lr (default 0.1)")
    t.add_argument("--warmup-iters", type=int, help="steps of linear learning-rate warmup (default 100)")
    t.add_argument("--max-iters", type=int, help="stop after this many steps (default 5000; no step limit with --minutes alone)")
    t.add_argument("--minutes", type=float, help="stop after this much training time; the schedule follows it")
    t.add_argument("--eval-every", type=int, help="evaluate on the whole validation text every N steps (default 250)")
    t.add_argument("--log-every", type=int, help="write a training-loss row to log.jsonl every N steps (default 10)")
    t.add_argument("--grad-clip", type=float, help="global gradient-norm clip; 0 = off (default 5)")
    t.add_argument("--weight-decay", type=float, help="decoupled weight decay (default 0)")
    t.add_argument("--optimizer", choices=("adam", "adagrad"), help="adam (all models) or adagrad (rnn only)")
    t.add_argument("--seed", type=int, help="seed for weights, dropout and everything random (default 1337)")
    t.add_argument("--dtype", choices=("float32", "bf16"), help="what the matrix products of training run in "
                   "(lstm/gru; default float32): bf16 is faster on CPUs with bf16 instructions and on GPUs; weights, "
                   "optimizer and checkpoints stay float32")
    t.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N (lstm/gru); under torchrun, "
                   "cuda gives each process the GPU of its LOCAL_RANK. Checkpoints load on any device")
    t.add_argument("--order", type=int, help="ngram: predict from the last ORDER - 1 tokens (default 0: the best "
                   "order from 1 to 12 on the validation split)")
    t.add_argument("--prune", type=int, help="ngram: drop n-grams seen once from this order up (default 6; 0 = none)")
    t.add_argument("--forget-bias", type=float, help="lstm: the forget gate's starting bias (default 1: remember early "
                   "in training; 0 learns faster in short runs)")
    t.add_argument("--no-progress", action="store_true", default=None, help="no progress bar")
    t.set_defaults(fn=_train)

    s = sub.add_parser("sample", help="generate text from a checkpoint")
    s.add_argument("checkpoint", help="checkpoint folder, or Hub repo id owner/name[@revision]")
    s.add_argument("--prompt", default="", help="text the model continues; it warms up the state (default: a newline)")
    s.add_argument("--length", type=int, default=SAMPLING.length,
                   help="tokens to generate: characters for a character model, words and punctuation marks (and "
                   "line breaks) for a word model")
    s.add_argument("--temperature", type=float, default=SAMPLING.temperature,
                   help="0 = greedy; lower is safer, higher is wilder")
    s.add_argument("--top-k", type=int, default=SAMPLING.top_k, help="sample only among the k likeliest tokens (0 = off)")
    s.add_argument("--top-p", type=float, default=SAMPLING.top_p,
                   help="sample only from the smallest set holding this much probability")
    s.add_argument("--seed", type=int, default=None, help="same seed, same text (default: random)")
    s.add_argument("--show-copied", action="store_true",
                   help="mark the stretches of 20+ characters found verbatim in the training text, and say how much")
    s.add_argument("--data", help="the training text for --show-copied (default: the file the model's config names, "
                   "looked for in data/, $RNNLM_DATA_DIR and ../shared/data)")
    s.add_argument("--top", type=int, metavar="N", help="print the N likeliest next tokens after the prompt with "
                   "their probabilities (at temperature 1), one a line, instead of generating")
    s.add_argument("--json", action="store_true", help="with --top: print one JSON list of {token, prob}")
    s.set_defaults(fn=_sample)

    c = sub.add_parser("score", help="how well a checkpoint predicts a text (nats per token, perplexity, bits/char)",
                       description="Score a text: nats and perplexity per token, and bits per character of the text, "
                       "which compare word and character models (a word model's <unk> tokens also pay for their "
                       "spelling; see the README). With --sentences, rank sentences by probability.")
    c.add_argument("checkpoint", help="checkpoint folder, or Hub repo id owner/name[@revision]")
    c.add_argument("--text", help="the text to score")
    c.add_argument("--text-file", help="a UTF-8 file to score")
    c.add_argument("--sentences", metavar="FILE", help="a UTF-8 file of sentences, one a line: print each one's "
                   "log-probability (natural log) and perplexity per token, most probable first; each is read "
                   "from the start of a text (after a line break), on its own")
    c.add_argument("--context", default="\n", help="text assumed before it (default: a newline; not with --sentences)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(fn=_score)

    d = sub.add_parser("download", help="download a known public-domain corpus (needs internet)")
    d.add_argument("name", choices=("tinyshakespeare", "alice", "sherlock"))
    d.add_argument("--out", default="data", help="folder to save NAME.txt in")
    d.set_defaults(fn=_download)

    u = sub.add_parser("push", help="upload a checkpoint folder to the Hugging Face Hub",
                       description="Upload config.json, model.safetensors, README.md (the model card), log.jsonl, "
                       "timelapse.jsonl and samples.json from DIR in one commit (never resume/). The token comes "
                       "from --token, else HF_TOKEN, else `hf auth login`.")
    u.add_argument("dir", metavar="DIR", help="checkpoint folder, e.g. runs/lstm")
    u.add_argument("--repo", required=True, help="Hub repo id owner/name; created if it does not exist")
    u.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps its setting)")
    u.add_argument("--revision", help="branch to commit to, created from main if new (default: main)")
    u.add_argument("--token", help="a Hub token with write access; prefer HF_TOKEN or `hf auth login` (a command "
                   "line ends up in shell history)")
    u.add_argument("--dry-run", action="store_true", help="list what would be uploaded and send nothing")
    u.set_defaults(fn=_push)

    g = sub.add_parser("pull", help="download a model folder from the Hugging Face Hub")
    g.add_argument("source", metavar="ID[@REV]", help="Hub repo id owner/name, optionally @branch, @tag or @commit")
    g.add_argument("--out", required=True, help="folder to write config.json, model.safetensors, README.md, logs into")
    g.set_defaults(fn=_pull)

    y = sub.add_parser("deploy-space", help="create or update a Hugging Face Space that runs the app",
                       description="Upload app.py, the rnnlm package, checkpoints/ (each model's config, weights, card "
                       "and records), README.md (its front matter configures the Space), LICENSE and a requirements.txt "
                       "without torch, in one commit. The token comes from --token, else HF_TOKEN, else `hf auth login`.")
    y.add_argument("--repo", required=True, help="Space id owner/name; created (Gradio SDK) if it does not exist")
    y.add_argument("--private", action="store_true", help="create the Space private (an existing one keeps its setting)")
    y.add_argument("--token", help="a Hub token with write access; prefer HF_TOKEN or `hf auth login` (a command "
                   "line ends up in shell history)")
    y.add_argument("--model", action="append", default=[], metavar="TYPE=SOURCE",
                   help="serve model TYPE (" + ", ".join(MODELS) + ") from a Hub repo owner/name[@revision] (sets the "
                   "Space variable RNNLM_<TYPE>) or from a local checkpoint folder (uploaded instead of the bundled "
                   "one); repeatable")
    y.add_argument("--checkpoints", metavar="DIR", help="folder holding <type>/ checkpoint folders (default: checkpoints/)")
    y.add_argument("--with-torch", action="store_true", help="add torch (the pinned version, CPU-only wheels) to the "
                   "Space's requirements, for features that train; the app itself runs without it")
    y.add_argument("--dry-run", action="store_true", help="list the files (with sizes) and variables, send nothing")
    y.set_defaults(fn=_deploy_space)

    r = sub.add_parser("race", help="train RNN, LSTM and GRU on one text with equal CPU time and compare them",
                       description="Train the chosen models on FILE in turns, each getting the same CPU time on one "
                       "thread, evaluating all of them every few seconds on the last 10%% of the text. Writes OUT/<model> "
                       "checkpoint folders (as `train` does), OUT/race.png (validation and training loss against "
                       "training seconds), OUT/race.md (a table) and OUT/race.json (every point).")
    r.add_argument("--data", required=True, help="UTF-8 text file; its first 90%% trains, the last 10%% validates")
    r.add_argument("--minutes", type=float, required=True, help="wall-clock budget of the whole race, shared equally")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--models", default="rnn,lstm,gru", help="comma-separated model types (default rnn,lstm,gru)")
    r.add_argument("--size", default="auto", choices=("auto", "tiny", "small", "medium"),
                   help="model size preset; auto picks by budget and corpus size (see the README)")
    r.add_argument("--quiet", action="store_true", help="no line per evaluation")
    r.set_defaults(fn=_race)
    n = sub.add_parser("inspect", help="look inside a network: gradient flow, interpretable units, gate saturation",
                       description="The numbers of the app's 'Inside the models' tab, for one checkpoint and one text.")
    n.add_argument("dir", metavar="DIR", help="checkpoint folder, or Hub repo id owner/name[@revision]")
    n.add_argument("--text-file", required=True, help="a UTF-8 text: the passage (gradients: its first 1,000 "
                   "characters) or the sample (neurons, gates: its first 16,000)")
    what = n.add_mutually_exclusive_group(required=True)
    what.add_argument("--gradients", action="store_true", help="mean |d log p / d input| k characters back, "
                      "k = 1..200, and where it falls below 1/1000 of its k = 1 value")
    what.add_argument("--neurons", action="store_true", help="the units most correlated with quotes, brackets, "
                      "line position, speaker-name lines and position in word")
    what.add_argument("--gates", action="store_true", help="per gate and layer, how often units are below 0.1 / above 0.9")
    n.add_argument("--json", action="store_true", help="print one JSON object")
    n.set_defaults(fn=_inspect)
    return p


def main(argv=None) -> int:
    from .hub import redact

    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, TypeError, FileNotFoundError, ConnectionError, OSError) as e:
        print(f"error: {redact(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
